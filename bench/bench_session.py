"""Tool dispatch and handoff overhead over the real simulator, ours beside openai-agents' and pipecat's.

Each client runs SESSIONS sequential text conversations of the triage ⇄ billing demo
(bench/peers.py) against a simulator in its own process (bench/sim_process.py), so the
simulator never shares an event loop or the GIL with the client being timed, and is timed
from the server side: each span is the client's whole reaction to the simulator's trigger.

The simulator streams the rest of the response (`output_item.done`, `conversation.item.done`,
`response.done`) before it reads the client's answer, so part of every span is its own
work.  A bare `websockets` client that answers at once, with no tool and no logic, shows
that floor on the first row; each client's share is its median minus the floor's.
Conversations are kept short (many sessions of a few turns) because the simulator's
per-response work grows with the conversation.

The clients take turns: ROUNDS rounds, each running every client in order against a fresh
simulator, so a slow spell of this shared machine lands on all of them rather than on
whichever client it happened to meet; a client's figure is the median of its spans from
every round, and each round's share ratios are printed too, to show their spread.  Once
every client is built (its imports done), `gc.freeze()`, as a server does once it has
loaded, for all of them alike.

Then bench/bench_core.py runs for the core's own cost per event.

    .venv/bin/python bench/bench_session.py [--peers runner,openai-agents,pipecat]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from peers import PEERS, Peer, close_peer
from sim_process import KINDS, SimulatorProcess, Spans, percentile, user_text

ROUNDS = 3
SESSIONS = 6  # per client and round; the first one is a warm-up and not counted
TURNS = 20  # user turns per session: each one no-op call; every odd turn also a transfer
TARGET_MS = 0.5
TARGET_SHARE_RATIO = {"openai-agents": 4.0, "pipecat": 2.0}  # the issue's: their share at least this many times ours
TIMED = ("tool dispatch", "handoff")


async def measured(peer: Peer) -> Spans:
    """Run SESSIONS sessions of one client against a fresh simulator process (one round)."""
    server = SimulatorProcess(skip=1)
    try:
        for _ in range(SESSIONS):
            async with peer(server.ws_url) as talk:
                for turn in range(TURNS):
                    await talk(user_text(turn))
        await close_peer(peer)
        return server.result()
    finally:
        server.kill()


def summary(values: list[float]) -> tuple[float, float]:
    return statistics.median(values) * 1000, percentile(values, 0.9) * 1000


def share(spans: dict[str, Spans], name: str, kind: str) -> float:
    """A client's share of a span in ms: its median minus the bare client's."""
    return summary(spans[name][kind])[0] - summary(spans["bare"][kind])[0]


def ratios_by_round(rounds: list[dict[str, Spans]], row: str, peer: str, kind: str) -> str:
    """The peer's share over ours in each round, e.g. "2.1 / 1.8 / 2.4"."""
    shown = []
    for this_round in rounds:
        if not all(name in this_round for name in ("bare", row, peer)):
            continue
        mine = share(this_round, row, kind)
        shown.append(f"{share(this_round, peer, kind) / mine:.1f}" if mine > 0 else "-")
    return " / ".join(shown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peers", default="runner,runner-async,openai-agents,pipecat", help="comma-separated, of: runner, runner-async, openai-agents, pipecat")
    names = ["bare", *(name.strip() for name in parser.parse_args().peers.split(","))]
    unknown = [name for name in names if name not in PEERS]
    if unknown or "runner" not in names:
        parser.error(f"--peers: runner and any of {', '.join(name for name in PEERS if name not in ('bare', 'runner'))}; got {', '.join(unknown) or 'no runner'}")
    results: dict[str, Spans] = {}
    rounds: list[dict[str, Spans]] = []
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-session-") as temporary:
        clients: dict[str, Peer] = {}
        for name in names:
            folder = Path(temporary) / name
            folder.mkdir()
            try:
                clients[name] = PEERS[name](folder)
            except Exception as error:  # a peer that is not installed: report it, measure the others
                failures[name] = f"{type(error).__name__}: {error}"
        gc.collect()
        gc.freeze()
        for _ in range(ROUNDS):
            this_round: dict[str, Spans] = {}
            for name, client in clients.items():
                if name in failures:
                    continue
                try:
                    this_round[name] = asyncio.run(measured(client))
                except Exception as error:  # report what a client could not do, keep the others' numbers
                    failures[name] = f"{type(error).__name__}: {error}"
            rounds.append(this_round)
    for name in names:
        if name not in failures:
            results[name] = {kind: [value for this_round in rounds for value in this_round[name][kind]] for kind in KINDS}
    if "bare" not in results or "runner" not in results:
        raise SystemExit(f"could not measure the floor or runner: {failures}")
    ours = results["runner"]
    mine_rows = [name for name in ("runner", "runner-async") if name in results]
    peers = [name for name in names if name in results and name not in ("bare", *mine_rows)]

    print(f"session overhead, timed by the simulator (own process, 127.0.0.1): {ROUNDS} rounds of {SESSIONS - 1} sessions x {TURNS} turns per client, each after one warm-up session")
    print(f"  {'median / p90 in ms':28}" + "".join(f" {name:>15}" for name in results))
    for kind in KINDS:
        line = f"  {kind:28}" + "".join(f" {median:7.3f} /{p90:6.3f}" for median, p90 in (summary(spans[kind]) for spans in results.values()))
        if kind in TIMED:
            line += f"   runner target < {TARGET_MS} ms: {'met' if summary(ours[kind])[0] < TARGET_MS else 'missed'}"
        print(f"{line}  (n={len(ours[kind])})")
    print("  client's share (median minus the bare client's median), and each peer's share over runner's:")
    for kind in KINDS:
        for row in mine_rows:
            mine = share(results, row, kind)
            line = f"  {kind:28} {row:12} {mine:6.3f} ms"
            for peer in peers:
                other = share(results, peer, kind)
                line += f"   {peer} {other:6.3f} ms" + (f" {other / mine:5.1f}x" if mine > 0 else "")
                if kind in TIMED and peer in TARGET_SHARE_RATIO:
                    met = mine > 0 and other / mine >= TARGET_SHARE_RATIO[peer]
                    line += f" (target >= {TARGET_SHARE_RATIO[peer]:g}x: {'met' if met else 'missed'}; by round {ratios_by_round(rounds, row, peer, kind)})"
            print(line)
    print("  runner: a plain `def` tool, run on a worker thread (a blocking tool cannot stall other conversations);")
    print("  runner-async: an `async def` tool, run on the loop, as openai-agents runs a sync tool and pipecat its handlers.")
    for name, failure in failures.items():
        print(f"  {name} could not be measured: {failure}")
    print("  bare client: the simulator's and the socket's own share of each span.")
    print()
    sys.stdout.flush()
    subprocess.run([sys.executable, str(Path(__file__).with_name("bench_core.py"))], check=True)


if __name__ == "__main__":
    main()
