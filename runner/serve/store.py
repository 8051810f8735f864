"""Claims shared by every worker: the first to claim a call id answers the call, the rest stand back.

The service retries a webhook (and may deliver it twice at once, to two workers behind a
load balancer), so a process-local set is not enough: the claim is a row insert that
only one writer can win (`INSERT ... ON CONFLICT DO NOTHING`).

- `SqliteClaims`: a file under the state folder (WAL), for workers on one host;
- `PostgresClaims`: `RUNNER_DATABASE_URL` (psycopg 3), for workers on several hosts.

`open_claim_store(environ, state_dir)` picks one; both have the same interface.
"""

from __future__ import annotations

import abc
import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Mapping

DATABASE_URL_VARIABLE = "RUNNER_DATABASE_URL"
SQLITE_FILE = "call-claims.sqlite3"
CLAIM_DAYS = 2.0  # a claim outlives every retry of its webhook (the service retries for hours, not days)
BUSY_TIMEOUT_MS = 5000
SETUP_LOCK = 0x72756E6E  # the advisory lock that serialises creating the table


class ClaimStoreError(Exception):
    """The store cannot be opened: the message says how to fix it."""


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


class SqliteClaims(ClaimStore):
    """Claims in a SQLite file: safe for any number of processes on one host."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self._db.execute("CREATE TABLE IF NOT EXISTS call_claims (key TEXT PRIMARY KEY, claimed_at REAL NOT NULL)")
        self._db.execute("DELETE FROM call_claims WHERE claimed_at < ?", (time.time() - CLAIM_DAYS * 86400,))

    async def claim(self, key: str) -> bool:
        return await asyncio.to_thread(self._run, "INSERT INTO call_claims (key, claimed_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (key, time.time()))

    async def release(self, key: str) -> None:
        await asyncio.to_thread(self._run, "DELETE FROM call_claims WHERE key = ?", (key,))

    def _run(self, statement: str, parameters: tuple[Any, ...]) -> bool:
        with self._lock:
            return self._db.execute(statement, parameters).rowcount == 1

    async def aclose(self) -> None:
        with self._lock:
            self._db.close()


class PostgresClaims(ClaimStore):
    """Claims in PostgreSQL, for workers on several hosts; one connection per process, opened on first use."""

    def __init__(self, url: str) -> None:
        import importlib.util

        if importlib.util.find_spec("psycopg") is None:
            raise ClaimStoreError(f"{DATABASE_URL_VARIABLE} is set, but psycopg is not installed: pip install -c requirements.lock -e '.[postgres]'")
        self.url = url
        self._connection: Any = None
        self._lock = asyncio.Lock()

    async def claim(self, key: str) -> bool:
        return await self._run("INSERT INTO call_claims (key, claimed_at) VALUES (%s, now()) ON CONFLICT (key) DO NOTHING", (key,))

    async def release(self, key: str) -> None:
        await self._run("DELETE FROM call_claims WHERE key = %s", (key,))

    async def _run(self, statement: str, parameters: tuple[Any, ...]) -> bool:
        import psycopg

        async with self._lock:
            for attempt in (1, 2):  # a connection the database dropped is dialled again once
                try:
                    connection = await self._connected()
                    cursor = await connection.execute(statement, parameters)
                    return cursor.rowcount == 1
                except psycopg.OperationalError as failure:
                    await self._drop()
                    if attempt == 2:
                        raise ClaimStoreError(f"the call claims database ({DATABASE_URL_VARIABLE}) cannot be reached: {failure}") from None
            raise AssertionError("unreachable")

    async def _connected(self) -> Any:
        import psycopg

        if self._connection is None or self._connection.closed:
            connection = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
            async with connection.transaction():  # CREATE TABLE IF NOT EXISTS races with itself: workers start together
                await connection.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
                await connection.execute("CREATE TABLE IF NOT EXISTS call_claims (key TEXT PRIMARY KEY, claimed_at TIMESTAMPTZ NOT NULL)")
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


def open_claim_store(environ: Mapping[str, str], state_dir: Path) -> ClaimStore:
    """PostgreSQL when `RUNNER_DATABASE_URL` is set, else a SQLite file in the state folder."""
    url = environ.get(DATABASE_URL_VARIABLE, "").strip()
    if url:
        return PostgresClaims(url)
    try:
        return SqliteClaims(state_dir / SQLITE_FILE)
    except (OSError, sqlite3.Error) as failure:
        raise ClaimStoreError(f"cannot open the call claims in {state_dir / SQLITE_FILE}: {failure}") from None
