"""The shared store: one winner per call id, rate counters and the calls in flight, in SQLite (across processes) and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from runner.serve.store import STALE_SECONDS, CallEntry, PostgresStore, SqliteStore, Store, open_claim_store
from tests.serve.postgres import postgres_url

__all__ = ["postgres_url"]  # a fixture, used by name

ROOT = Path(__file__).resolve().parents[2]
RACER = """
import asyncio, json, sys
from pathlib import Path
from runner.serve.store import SqliteStore

async def main():
    store = SqliteStore(Path(sys.argv[1]))
    won = [key for key in (f"rtc_{n}" for n in range(int(sys.argv[2]))) if await store.claim(key)]
    await store.aclose()
    print(json.dumps(won))

asyncio.run(main())
"""


def test_sqlite_claims_one_winner_per_key_among_racing_processes(tmp_path: Path) -> None:
    path = tmp_path / "state" / "claims.sqlite3"
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(path), "200"], cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(4)]
    wins = [json.loads(racer.communicate(timeout=60)[0]) for racer in racers]
    assert all(racer.returncode == 0 for racer in racers)
    every = [key for won in wins for key in won]
    assert sorted(every) == sorted(f"rtc_{n}" for n in range(200)), "each key is won exactly once"
    assert asyncio.run(SqliteStore(path).claim("rtc_0")) is False


def test_sqlite_release_lets_a_retry_claim_again(tmp_path: Path) -> None:
    async def body() -> None:
        store = SqliteStore(tmp_path / "claims.sqlite3")
        assert await store.claim("rtc_a") is True
        assert await store.claim("rtc_a") is False
        await store.release("rtc_a")
        assert await store.claim("rtc_a") is True
        await store.aclose()
        journal = (await asyncio.to_thread(_journal_mode, tmp_path / "claims.sqlite3"))
        assert journal == "wal"

    asyncio.run(body())


def _journal_mode(path: Path) -> str:
    import sqlite3

    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA journal_mode").fetchone()[0]


def test_the_store_is_chosen_by_the_environment(tmp_path: Path) -> None:
    sqlite = open_claim_store({}, tmp_path / "state")
    assert isinstance(sqlite, SqliteStore) and sqlite.path == tmp_path / "state" / "call-claims.sqlite3"
    asyncio.run(sqlite.aclose())
    postgres = open_claim_store({"RUNNER_DATABASE_URL": "postgresql://runner@127.0.0.1:1/claims"}, tmp_path / "state")
    assert isinstance(postgres, PostgresStore) and postgres.url == "postgresql://runner@127.0.0.1:1/claims"


def test_postgres_claims_one_winner_per_key_among_connections(postgres_url: str) -> None:
    async def body() -> None:
        stores = [PostgresStore(postgres_url) for _ in range(4)]
        keys = [f"rtc_{n}" for n in range(50)]
        results = await asyncio.gather(*(store.claim(key) for key in keys for store in stores))
        per_key = [results[index * 4 : index * 4 + 4] for index in range(len(keys))]
        assert all(sum(wins) == 1 for wins in per_key), per_key
        await stores[0].release("rtc_0")
        assert await stores[1].claim("rtc_0") is True
        assert await stores[2].claim("rtc_0") is False
        for store in stores:
            await store.aclose()

    asyncio.run(body())


def test_postgres_claims_dial_again_after_the_connection_drops(postgres_url: str) -> None:
    async def body() -> None:
        store = PostgresStore(postgres_url)
        assert await store.claim("rtc_drop_1") is True
        killer = PostgresStore(postgres_url)
        await killer.claim("rtc_drop_probe")
        await killer._connection.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = 'postgres'")
        assert await store.claim("rtc_drop_2") is True
        assert await store.claim("rtc_drop_1") is False
        await store.aclose()
        await killer.aclose()

    asyncio.run(body())


def test_an_unreachable_database_is_one_clear_error() -> None:
    from runner.serve.store import ClaimStoreError

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe is closed

    async def body() -> None:
        store = PostgresStore(f"postgresql://runner@127.0.0.1:{port}/claims?connect_timeout=2")
        with pytest.raises(ClaimStoreError, match=r"^the shared database \(RUNNER_DATABASE_URL\) cannot be reached: "):
            await store.claim("rtc_1")

    asyncio.run(body())


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Store]:
    """Opens stores on one database: a SQLite file, or the PostgreSQL cluster (its tables emptied first)."""
    if request.param == "sqlite":
        return lambda: SqliteStore(tmp_path / "shared.sqlite3")
    url = request.getfixturevalue("postgres_url")

    async def empty() -> None:
        store = PostgresStore(url)
        await store.beat("probe", 0, 0.0)  # creates the tables
        for table in ("rate_hits", "workers", "live_calls"):
            await store._execute(f"DELETE FROM {table}", ())
        await store.aclose()

    asyncio.run(empty())
    return lambda: PostgresStore(url)


def test_the_rate_counter_is_shared_and_counts_each_client_per_minute(open_store: Callable[[], Store]) -> None:
    async def body() -> None:
        first, second = open_store(), open_store()
        minute = 29_000_000 * 60.0
        assert await first.hit("10.0.0.1", 2, minute + 1) is None
        assert await second.hit("10.0.0.1", 2, minute + 10) is None, "the second worker sees the first one's hit"
        assert await first.hit("10.0.0.1", 2, minute + 15) == 45.0, "a third in the minute waits for the next one"
        assert await second.hit("10.0.0.2", 2, minute + 15) is None, "another client counts apart"
        assert await second.hit("10.0.0.1", 2, minute + 60) is None, "a new minute starts afresh"
        results = await asyncio.gather(*(store.hit("10.0.0.3", 10, minute + 5) for store in (first, second) for _ in range(15)))
        assert sum(result is None for result in results) == 10, results
        await first.aclose()
        await second.aclose()

    asyncio.run(body())


def test_every_worker_sees_every_workers_calls_until_they_close_or_the_worker_goes_silent(open_store: Callable[[], Store]) -> None:
    async def body() -> None:
        first, second = open_store(), open_store()
        now = 1_800_000_000.0
        await first.beat("host:1", 1, now)
        await second.beat("host:2", 2, now)
        await first.call_opened(CallEntry("s1", "rtc_1", "sip", "desk", "host:1", 1, now - 5))
        await second.call_opened(CallEntry("s2", None, "browser", "desk", "host:2", 2, now - 1))
        await second.call_agent("s2", "sales")
        assert await first.calls(now) == [CallEntry("s1", "rtc_1", "sip", "desk", "host:1", 1, now - 5),
                                          CallEntry("s2", None, "browser", "sales", "host:2", 2, now - 1)]
        await first.call_closed("s1")
        assert [entry.session_id for entry in await second.calls(now)] == ["s2"]
        await first.beat("host:1", 1, now + STALE_SECONDS)
        assert await first.calls(now + STALE_SECONDS + 1) == [], "host:2 stopped beating: its calls are gone from the list"
        await second.worker_gone("host:2")
        assert await first.calls(now) == []
        await first.aclose()
        await second.aclose()

    asyncio.run(body())
