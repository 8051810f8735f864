"""What every worker shares: call claims, rate-limit counters and the list of calls in flight.

- **Claims**: the service retries a webhook (and may deliver it twice at once, to two
  workers behind a load balancer), so a process-local set is not enough: the claim is a
  row insert that only one writer can win (`INSERT ... ON CONFLICT DO NOTHING`).
- **Rate counters**: new calls per client address in fixed one-minute windows, one
  atomic upsert per call (`... DO UPDATE SET hits = hits + 1 RETURNING hits`).
- **Calls in flight**: each worker lists its open calls (worker, pid, channel, agent,
  started) and beats every few seconds; a worker whose beat is stale (it crashed) drops
  out of the list. Transcripts stay in their worker.

`SqliteStore`: a file under the state folder (WAL), for workers on one host;
`PostgresStore`: `RUNNER_DATABASE_URL` (psycopg 3), for workers on several hosts.
`open_claim_store(environ, state_dir)` picks one; both have the same interface.
"""

from __future__ import annotations

import abc
import asyncio
import importlib.util
import math
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

DATABASE_URL_VARIABLE = "RUNNER_DATABASE_URL"
SQLITE_FILE = "call-claims.sqlite3"
CLAIM_DAYS = 2.0  # a claim outlives every retry of its webhook (the service retries for hours, not days)
BUSY_TIMEOUT_MS = 5000
SETUP_LOCK = 0x72756E6E  # the advisory lock that serialises creating the tables
WINDOW_SECONDS = 60
BEAT_SECONDS = 5.0  # how often a worker says it is alive
STALE_SECONDS = 30.0  # a worker silent this long is gone: its calls leave the list

TABLES = (
    "CREATE TABLE IF NOT EXISTS rate_hits (client TEXT NOT NULL, minute BIGINT NOT NULL, hits INTEGER NOT NULL, PRIMARY KEY (client, minute))",
    "CREATE TABLE IF NOT EXISTS workers (worker TEXT PRIMARY KEY, pid INTEGER NOT NULL, beat DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS live_calls (session_id TEXT PRIMARY KEY, call_id TEXT, channel TEXT NOT NULL, agent TEXT NOT NULL,"
    " worker TEXT NOT NULL, pid INTEGER NOT NULL, started DOUBLE PRECISION NOT NULL)",
)
COUNT_HIT = ("INSERT INTO rate_hits (client, minute, hits) VALUES (?, ?, 1) "
             "ON CONFLICT (client, minute) DO UPDATE SET hits = rate_hits.hits + 1 RETURNING hits")
BEAT = "INSERT INTO workers (worker, pid, beat) VALUES (?, ?, ?) ON CONFLICT (worker) DO UPDATE SET pid = excluded.pid, beat = excluded.beat"
LIST_CALLS = ("SELECT c.session_id, c.call_id, c.channel, c.agent, c.worker, c.pid, c.started FROM live_calls c "
              "JOIN workers w ON w.worker = c.worker WHERE w.beat >= ? ORDER BY c.started")


class ClaimStoreError(Exception):
    """The store cannot be opened or reached: the message says how to fix it."""


@dataclass(frozen=True)
class CallEntry:
    """One call in flight, as the shared list has it."""

    session_id: str
    call_id: str | None
    channel: str
    agent: str
    worker: str
    pid: int
    started: float  # Unix seconds


class ClaimStore(abc.ABC):
    """`await store.claim(key)` is True for exactly one caller per key, across processes."""

    @abc.abstractmethod
    async def claim(self, key: str) -> bool:
        """Take `key`; False when someone (this process or another) already holds it."""

    @abc.abstractmethod
    async def release(self, key: str) -> None:
        """Give `key` back, so that a retry may try again (the attempt failed for a reason that may pass)."""

    async def aclose(self) -> None:
        """Close the connection; the claims stay."""


class Store(ClaimStore):
    """Claims, rate counters and calls in flight over one database; statements use `?` placeholders."""

    @abc.abstractmethod
    async def _execute(self, statement: str, parameters: Sequence[Any]) -> int:
        """Run one statement; the number of rows it changed."""

    @abc.abstractmethod
    async def _query(self, statement: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run one statement; the rows it returned."""

    async def claim(self, key: str) -> bool:
        return await self._execute("INSERT INTO call_claims (key, claimed_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (key, self._claim_time())) == 1

    async def release(self, key: str) -> None:
        await self._execute("DELETE FROM call_claims WHERE key = ?", (key,))

    def _claim_time(self) -> Any:
        return time.time()

    async def hit(self, client: str, limit: int, now: float) -> float | None:
        """Count one new call from `client` (`now` in Unix seconds); None when within `limit` this minute, else seconds until the next."""
        minute = math.floor(now / WINDOW_SECONDS)
        rows = await self._query(COUNT_HIT, (client, minute))
        if minute % 10 == 0 and rows[0][0] == 1:  # now and then, forget the minutes that are over
            await self._execute("DELETE FROM rate_hits WHERE minute < ?", (minute - 1,))
        if rows[0][0] <= limit:
            return None
        return (minute + 1) * WINDOW_SECONDS - now

    async def beat(self, worker: str, pid: int, now: float) -> None:
        """Say `worker` is alive (its calls stay listed for STALE_SECONDS more)."""
        await self._execute(BEAT, (worker, pid, now))

    async def call_opened(self, entry: CallEntry) -> None:
        await self._execute("INSERT INTO live_calls (session_id, call_id, channel, agent, worker, pid, started) VALUES (?, ?, ?, ?, ?, ?, ?) "
                            "ON CONFLICT (session_id) DO UPDATE SET agent = excluded.agent",
                            (entry.session_id, entry.call_id, entry.channel, entry.agent, entry.worker, entry.pid, entry.started))

    async def call_agent(self, session_id: str, agent: str) -> None:
        await self._execute("UPDATE live_calls SET agent = ? WHERE session_id = ?", (agent, session_id))

    async def call_closed(self, session_id: str) -> None:
        await self._execute("DELETE FROM live_calls WHERE session_id = ?", (session_id,))

    async def calls(self, now: float) -> list[CallEntry]:
        """Every worker's calls in flight, oldest first (a worker that stopped beating is left out)."""
        rows = await self._query(LIST_CALLS, (now - STALE_SECONDS,))
        return [CallEntry(*row) for row in rows]

    async def worker_gone(self, worker: str) -> None:
        """Forget a worker and its calls (it is stopping, or starting afresh under a reused name)."""
        await self._execute("DELETE FROM live_calls WHERE worker = ?", (worker,))
        await self._execute("DELETE FROM workers WHERE worker = ?", (worker,))


class SqliteStore(Store):
    """The store in a SQLite file: safe for any number of processes on one host."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self._db.execute("CREATE TABLE IF NOT EXISTS call_claims (key TEXT PRIMARY KEY, claimed_at REAL NOT NULL)")
        for table in TABLES:
            self._db.execute(table)
        self._db.execute("DELETE FROM call_claims WHERE claimed_at < ?", (time.time() - CLAIM_DAYS * 86400,))

    async def _execute(self, statement: str, parameters: Sequence[Any]) -> int:
        return await asyncio.to_thread(self._run, statement, parameters, False)

    async def _query(self, statement: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        return await asyncio.to_thread(self._run, statement, parameters, True)

    def _run(self, statement: str, parameters: Sequence[Any], rows: bool) -> Any:
        with self._lock:
            try:
                cursor = self._db.execute(statement, tuple(parameters))
                return cursor.fetchall() if rows else cursor.rowcount
            except sqlite3.Error as failure:
                raise ClaimStoreError(f"the shared store {self.path} failed: {failure}") from None

    async def aclose(self) -> None:
        with self._lock:
            self._db.close()


class PostgresStore(Store):
    """The store in PostgreSQL, for workers on several hosts; one connection per process, opened on first use."""

    def __init__(self, url: str) -> None:
        if importlib.util.find_spec("psycopg") is None:
            raise ClaimStoreError(f"{DATABASE_URL_VARIABLE} is set, but psycopg is not installed: pip install -c requirements.lock -e '.[postgres]'")
        self.url = url
        self._connection: Any = None
        self._lock = asyncio.Lock()

    def _claim_time(self) -> Any:
        import datetime

        return datetime.datetime.now(datetime.timezone.utc)

    async def _execute(self, statement: str, parameters: Sequence[Any]) -> int:
        return await self._run(statement, parameters, False)

    async def _query(self, statement: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        return await self._run(statement, parameters, True)

    async def _run(self, statement: str, parameters: Sequence[Any], rows: bool) -> Any:
        import psycopg

        async with self._lock:
            for attempt in (1, 2):  # a connection the database dropped is dialled again once
                try:
                    connection = await self._connected()
                    cursor = await connection.execute(statement.replace("?", "%s"), tuple(parameters))
                    return await cursor.fetchall() if rows else cursor.rowcount
                except psycopg.OperationalError as failure:
                    await self._drop()
                    if attempt == 2:
                        raise ClaimStoreError(f"the shared database ({DATABASE_URL_VARIABLE}) cannot be reached: {failure}") from None
            raise AssertionError("unreachable")

    async def _connected(self) -> Any:
        import psycopg

        if self._connection is None or self._connection.closed:
            connection = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
            async with connection.transaction():  # CREATE TABLE IF NOT EXISTS races with itself: workers start together
                await connection.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
                await connection.execute("CREATE TABLE IF NOT EXISTS call_claims (key TEXT PRIMARY KEY, claimed_at TIMESTAMPTZ NOT NULL)")
                for table in TABLES:
                    await connection.execute(table)
                await connection.execute(f"DELETE FROM call_claims WHERE claimed_at < now() - interval '{CLAIM_DAYS * 24:g} hours'")
            self._connection = connection
        return self._connection

    async def _drop(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def aclose(self) -> None:
        async with self._lock:
            await self._drop()


def open_claim_store(environ: Mapping[str, str], state_dir: Path) -> Store:
    """PostgreSQL when `RUNNER_DATABASE_URL` is set, else a SQLite file in the state folder."""
    url = environ.get(DATABASE_URL_VARIABLE, "").strip()
    if url:
        return PostgresStore(url)
    try:
        return SqliteStore(state_dir / SQLITE_FILE)
    except (OSError, sqlite3.Error) as failure:
        raise ClaimStoreError(f"cannot open the shared store in {state_dir / SQLITE_FILE}: {failure}") from None
