"""The claim store: one winner per call id, across processes (SQLite) and across connections (a real PostgreSQL)."""

from __future__ import annotations

import asyncio
import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from runner.serve.store import PostgresClaims, SqliteClaims, open_claim_store

ROOT = Path(__file__).resolve().parents[2]
RACER = """
import asyncio, json, sys
from pathlib import Path
from runner.serve.store import SqliteClaims

async def main():
    store = SqliteClaims(Path(sys.argv[1]))
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
    assert asyncio.run(SqliteClaims(path).claim("rtc_0")) is False


def test_sqlite_release_lets_a_retry_claim_again(tmp_path: Path) -> None:
    async def body() -> None:
        store = SqliteClaims(tmp_path / "claims.sqlite3")
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
    assert isinstance(sqlite, SqliteClaims) and sqlite.path == tmp_path / "state" / "call-claims.sqlite3"
    asyncio.run(sqlite.aclose())
    postgres = open_claim_store({"RUNNER_DATABASE_URL": "postgresql://runner@127.0.0.1:1/claims"}, tmp_path / "state")
    assert isinstance(postgres, PostgresClaims) and postgres.url == "postgresql://runner@127.0.0.1:1/claims"


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free 127.0.0.1 port, run as the `postgres` user when we are root."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    bin_dir = Path(binaries[-1]).parent
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="runner-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = folder / "data"
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "runner", "--auth=trust", "-E", "UTF8"], check=True, capture_output=True)
    options = f"-h 127.0.0.1 -p {port} -k {folder}"
    subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://runner@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_postgres_claims_one_winner_per_key_among_connections(postgres_url: str) -> None:
    async def body() -> None:
        stores = [PostgresClaims(postgres_url) for _ in range(4)]
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
        store = PostgresClaims(postgres_url)
        assert await store.claim("rtc_drop_1") is True
        killer = PostgresClaims(postgres_url)
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
        store = PostgresClaims(f"postgresql://runner@127.0.0.1:{port}/claims?connect_timeout=2")
        with pytest.raises(ClaimStoreError, match=r"^the call claims database \(RUNNER_DATABASE_URL\) cannot be reached: "):
            await store.claim("rtc_1")

    asyncio.run(body())
