"""Where the database lives, how it is created and seeded, and concurrent use."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from runner.bindings import ToolContext
from tools import db
from tools.billing import request_refund
from tools.support import create_support_ticket

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_path_comes_from_techcorp_db_first(database: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RUNNER_STATE_DIR", str(tmp_path / "elsewhere"))
    assert db.database_path() == database


def test_under_the_runner_the_context_state_folder_wins(database: Path, tmp_path: Path) -> None:
    context = ToolContext("s", "support", {}, (), tmp_path / "conversation")
    assert db.database_path(context) == tmp_path / "conversation" / "techcorp.db"
    ticket = create_support_ticket("CUST-1002", "Phone", "Screen flickers", "low", context=context)
    assert ticket["customer_id"] == "CUST-1002" and "error" not in ticket
    assert (tmp_path / "conversation" / "techcorp.db").is_file() and not database.exists()


def test_the_setup_hook_seeds_the_state_folder_it_is_given(database: Path, tmp_path: Path) -> None:
    assert db.initialise(tmp_path / "given") == tmp_path / "given" / "techcorp.db"
    assert (tmp_path / "given" / "techcorp.db").is_file() and not database.exists()


def test_path_falls_back_to_runner_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TECHCORP_DB")
    monkeypatch.setenv("RUNNER_STATE_DIR", str(tmp_path / "state"))
    assert db.initialise() == tmp_path / "state" / "techcorp.db"
    assert (tmp_path / "state" / "techcorp.db").is_file()


def test_path_defaults_to_dot_runner_under_the_current_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TECHCORP_DB")
    monkeypatch.chdir(tmp_path)
    assert db.initialise() == tmp_path / ".runner" / "techcorp.db"
    assert (tmp_path / ".runner" / "techcorp.db").is_file()


def test_initialise_creates_parent_folders_and_seeds(database: Path, db_query) -> None:
    assert not database.parent.exists()
    assert db.initialise() == database
    assert db_query("SELECT id, name, phone, email, tier FROM customers WHERE id IN ('CUST-1001', 'CUST-1002') ORDER BY id") == [
        ("CUST-1001", "Alex Morgan", "(555) 123-4567", "alex.morgan@example.com", "gold"),
        ("CUST-1002", "Jordan Lee", "(555) 987-6543", "jordan.lee@example.com", "standard"),
    ]
    assert db_query("SELECT count(*) FROM kb_articles") == [(16,)]
    assert db_query("SELECT journal_mode FROM pragma_journal_mode") == [("wal",)]


def test_seeding_happens_once_even_across_processes(database: Path, db_query) -> None:
    db.initialise()
    counts_before = db_query("SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM kb_articles), (SELECT count(*) FROM invoices)")
    seeded_at = db_query("SELECT value FROM meta WHERE key = 'seeded_at'")
    environment = {**os.environ, "TECHCORP_DB": str(database), "PYTHONPATH": str(REPO_ROOT)}
    subprocess.run([sys.executable, "-c", "import tools.db; tools.db.initialise()"], check=True, env=environment)
    assert db_query("SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM kb_articles), (SELECT count(*) FROM invoices)") == counts_before
    assert db_query("SELECT value FROM meta WHERE key = 'seeded_at'") == seeded_at


def test_a_deleted_database_is_created_again(database: Path, db_query) -> None:
    db.initialise()
    for leftover in database.parent.iterdir():
        leftover.unlink()
    db.initialise()
    assert db_query("SELECT count(*) FROM customers WHERE id = 'CUST-1001'") == [(1,)]


def test_a_path_that_cannot_be_a_database_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "occupied").write_text("a file where a folder should be")
    monkeypatch.setenv("TECHCORP_DB", str(tmp_path / "occupied" / "techcorp.db"))
    with pytest.raises(db.DatabaseUnavailable, match=r"^cannot set up the TechCorp database at .*/occupied/techcorp\.db: "):
        db.initialise()


def test_a_file_that_is_not_sqlite_is_reported(database: Path) -> None:
    database.parent.mkdir(parents=True)
    database.write_text("these are not the tables you are looking for " * 100)
    with pytest.raises(db.DatabaseUnavailable) as raised:
        db.initialise()
    assert str(raised.value) == f"cannot set up the TechCorp database at {database}: file is not a database"


def test_invoice_dates_are_relative_to_the_seeding_time(db_query) -> None:
    db.initialise()
    (seeded_text,) = db_query("SELECT value FROM meta WHERE key = 'seeded_at'")[0]
    seeded_at = datetime.fromisoformat(seeded_text)
    issued = dict(db_query("SELECT id, issued_at FROM invoices"))
    assert datetime.fromisoformat(issued["INV-2001"]) == seeded_at - timedelta(days=5)
    assert datetime.fromisoformat(issued["INV-2002"]) == seeded_at - timedelta(days=60)


def test_connections_enforce_foreign_keys() -> None:
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        with db.connect(write=True) as connection:
            connection.execute(
                "INSERT INTO tickets (customer_id, subject, description, priority, created_at, due_at)"
                " VALUES ('CUST-9999', 's', 'd', 'low', 'now', 'later')"
            )


def test_a_failed_transaction_leaves_nothing_behind(db_query) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        with db.connect(write=True) as connection:
            connection.execute("INSERT INTO meta (key, value) VALUES ('probe', 'x')")
            connection.execute("INSERT INTO meta (key, value) VALUES ('probe', 'y')")
    assert db_query("SELECT count(*) FROM meta WHERE key = 'probe'") == [(0,)]


def run_together(count: int, call) -> list:
    """Start `count` threads that call `call()` at the same moment; their results in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index: int) -> None:
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_first_use_from_many_threads_seeds_once(db_query) -> None:
    tickets = run_together(8, lambda: create_support_ticket("CUST-1002", "Phone", "Screen flickers", "low"))
    assert len({ticket["ticket_id"] for ticket in tickets}) == 8
    assert db_query("SELECT count(*) FROM customers") == [(4,)]
    assert db_query("SELECT count(*) FROM tickets WHERE customer_id = 'CUST-1002'") == [(8,)]


def test_concurrent_refunds_of_one_invoice_approve_only_one(db_query) -> None:
    db.initialise()
    decisions = run_together(6, lambda: request_refund("CUST-1001", "INV-2001", "Charged twice")["decision"])
    assert sorted(decisions) == ["approved"] + ["denied"] * 5
    assert db_query("SELECT sum(refunded_cents), count(*) FROM refunds WHERE invoice_id = 'INV-2001'") == [(12999, 6)]
