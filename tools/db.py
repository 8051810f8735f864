"""The TechCorp SQLite database: where it lives, creating and seeding it, connections.

Under the runner each conversation's database is in its own state folder, which reaches
the tools through their `context` (the runner's ToolContext), never through process-wide
state: conversations with different folders can share one process.  Tools run in the
runner's thread pool, so every call opens its own connection (cheap with SQLite) instead
of sharing one across threads.  The file is in WAL mode so readers never wait for a
writer, and writers wait up to BUSY_TIMEOUT_SECONDS for one another.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Iterator

DATA_DIR = Path(__file__).parent / "data"
DATABASE_FILE_NAME = "techcorp.db"
BUSY_TIMEOUT_SECONDS = 5.0

_initialised: set[Path] = set()
_initialise_lock = threading.Lock()


class DatabaseUnavailable(Exception):
    """The database file cannot be created or opened; the message names the path."""


def database_path(context: Any = None) -> Path:
    """`context.state_dir`/techcorp.db under the runner; for tools run alone (no context)
    $TECHCORP_DB, else $RUNNER_STATE_DIR/techcorp.db, else ./.runner/techcorp.db."""
    from_context = getattr(context, "state_dir", None)
    if from_context is not None:
        return (Path(from_context) / DATABASE_FILE_NAME).resolve()
    explicit = os.environ.get("TECHCORP_DB")
    if explicit:
        return Path(explicit).resolve()
    state_dir = os.environ.get("RUNNER_STATE_DIR")
    if state_dir:
        return (Path(state_dir) / DATABASE_FILE_NAME).resolve()
    return (Path.cwd() / ".runner" / DATABASE_FILE_NAME).resolve()


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def to_timestamp(moment: datetime) -> str:
    """The one text form for times in the database: ISO 8601 UTC, whole seconds."""
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def from_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


def to_cents(amount: Decimal | str) -> int:
    return int((Decimal(amount) * 100).to_integral_value(rounding=ROUND_HALF_UP))


def from_cents(cents: int) -> float:
    """Cents as a JSON-friendly amount with two decimals."""
    return round(cents / 100, 2)


def initialise(state_dir: Path | None = None) -> Path:
    """Create and seed the database if needed and return its path (the config's `setup`
    hook, which the runner gives the state folder; run alone, `database_path()` decides).

    Safe to call from many threads and processes: seeding happens once, inside an
    immediate transaction, and is recorded in `meta.seeded_at`.
    """
    return _ready((Path(state_dir) / DATABASE_FILE_NAME).resolve() if state_dir is not None else database_path())


def _ready(path: Path) -> Path:
    """The database at `path`, created and seeded first if this process has not yet seen it."""
    with _initialise_lock:
        if path in _initialised and path.exists():
            return path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _create_and_seed(path)
        except (OSError, sqlite3.Error) as exc:
            raise DatabaseUnavailable(f"cannot set up the TechCorp database at {path}: {exc}") from exc
        _initialised.add(path)
    return path


def _create_and_seed(path: Path) -> None:
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA foreign_keys = ON")
        connection.executescript((DATA_DIR / "schema.sql").read_text(encoding="utf-8"))
        connection.execute("BEGIN IMMEDIATE")
        try:
            if connection.execute("SELECT 1 FROM meta WHERE key = 'seeded_at'").fetchone() is None:
                _seed(connection, utc_now())
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    finally:
        connection.close()


@contextmanager
def connect(context: Any = None, *, write: bool = False) -> Iterator[sqlite3.Connection]:
    """One transaction on a fresh connection to the database of `context` (see
    `database_path`); `write=True` takes the write lock up front so a read-decide-write
    sequence (a refund decision) cannot interleave with another."""
    connection = sqlite3.connect(_ready(database_path(context)), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    connection.row_factory = sqlite3.Row
    try:
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield connection
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    finally:
        connection.close()


def _load(name: str) -> Any:
    return json.loads((DATA_DIR / name).read_text(encoding="utf-8"))


def _seed(connection: sqlite3.Connection, now: datetime) -> None:
    """Insert the seed data; dates given as `days_ago` are relative to `now` so the
    refund window behaves the same whatever day the database is created."""
    seed = _load("seed.json")

    def days_ago(days: int) -> str:
        return to_timestamp(now - timedelta(days=days))

    connection.executemany(
        "INSERT INTO customers (id, name, phone, email, tier, member_since)"
        " VALUES (:id, :name, :phone, :email, :tier, :member_since)",
        seed["customers"],
    )
    for product in seed["products"]:
        connection.execute(
            "INSERT INTO products (id, name, category, price_cents, description) VALUES (?, ?, ?, ?, ?)",
            (product["id"], product["name"], product["category"], to_cents(product["price"]), product["description"]),
        )
        restock_in_days = product.get("restock_in_days")
        restock_date = (now + timedelta(days=restock_in_days)).date().isoformat() if restock_in_days else None
        connection.execute(
            "INSERT INTO inventory (product_id, warehouse, units, restock_date) VALUES (?, ?, ?, ?)",
            (product["id"], product["warehouse"], product["units"], restock_date),
        )
    connection.executemany(
        "INSERT INTO customer_products (customer_id, product_id, purchased_on) VALUES (?, ?, ?)",
        [(row["customer_id"], row["product_id"], days_ago(row["days_ago"])[:10]) for row in seed["customer_products"]],
    )
    connection.executemany(
        "INSERT INTO invoices (id, customer_id, issued_at, description, amount_cents, status) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (row["id"], row["customer_id"], days_ago(row["days_ago"]), row["description"], to_cents(row["amount"]), row["status"])
            for row in seed["invoices"]
        ],
    )
    connection.executemany(
        "INSERT INTO tickets (customer_id, subject, description, priority, status, created_at, due_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (row["customer_id"], row["subject"], row["description"], row["priority"], row["status"],
             days_ago(row["days_ago"]), days_ago(row["days_ago"] - row["resolution_days"]))
            for row in seed["tickets"]
        ],
    )
    connection.executemany(
        "INSERT INTO kb_articles (id, title, category, keywords, body) VALUES (:id, :title, :category, :keywords, :body)",
        _load("knowledge_base.json"),
    )
    connection.execute("INSERT INTO kb_search (kb_search) VALUES ('rebuild')")
    connection.execute("INSERT INTO meta (key, value) VALUES ('seeded_at', ?)", (to_timestamp(now),))
