"""N concurrent text conversations in one process, runner beside openai-agents, over the simulator.

For each N and each peer, a fresh simulator (bench/sim_process.py) runs in its own process
and one client process runs N conversations of the triage ⇄ billing demo at one user turn
per second (each turn a no-op tool call; every odd turn also a handoff), their starts
spread over the first second.  The client process first runs one short warm-up
conversation, so imports and first-use caches are paid before the baseline is taken
(runner's host, like a server's, stays open from the warm-up to the end).  Then, for every
peer alike, `gc.freeze()`, as a server does once it has loaded: the hundreds of thousands of
objects the imports made (openai's types alone) leave the collector's full passes, which
otherwise stop the loop for 50-170 ms a few times a run at N = 200.

- tool dispatch / handoff p50 and p99: server-side, as in bench_session.py; "disp p99
  steady" counts only the calls made once every conversation is open: the first second,
  N conversations dialling at once, is a flash crowd the steady figure leaves out.
- event-loop lag p99: how late the conversations' own turn timers wake (each conversation
  sleeps until its next turn: N x turns samples, no timer of the bench's own).  Until
  2026-12-02 a monitor task woke every 50 ms for it; on this VM each timed wake-up costs
  about 0.35 ms of CPU, so the monitor cost 0.4 CPU-s a minute, more than a lone
  conversation, and the N = 1 figures were mostly the estimate subtracted for it.
- RSS per added conversation: (peak RSS while the N run − VmRSS after warm-up) / N; the
  peak is the kernel's VmHWM, reset once the warm-up is over (/proc/self/clear_refs).
- CPU s per conversation-minute: the client process's CPU time (user + system, every
  thread) over the N conversations, divided by N × their length in minutes.

    .venv/bin/python bench/bench_concurrency.py [--n 1,10,50,100,200] [--turns 20]
        [--peers bare,runner,openai-agents,pipecat] [--pace 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from peers import PEERS, close_peer
from sim_process import SimulatorProcess, percentile, user_text

WARM_UP_TURNS = 2


def status_kb(field: str) -> int:
    """A memory figure of this process from /proc/self/status (VmRSS: now; VmHWM: the peak since the last reset)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def cpu_seconds() -> float:
    return time.process_time()


def reset_peak_rss() -> None:
    """Start VmHWM (the peak RSS) afresh from the current RSS."""
    Path("/proc/self/clear_refs").write_text("5")


async def run_clients(peer_name: str, ws_url: str, count: int, turns: int, pace: float) -> dict[str, Any]:
    """The client process: warm up, then `count` paced conversations at once; the measurements as a dict."""
    with tempfile.TemporaryDirectory(prefix="bench-concurrency-") as temporary:
        peer = PEERS[peer_name](Path(temporary))
        async with peer(ws_url) as talk:
            for turn in range(WARM_UP_TURNS):
                await talk(user_text(turn))
        gc.collect()
        gc.freeze()  # what a server does once loaded: the modules' objects leave the collector's full passes
        loop = asyncio.get_running_loop()
        base_rss, base_cpu = status_kb("VmRSS"), cpu_seconds()
        reset_peak_rss()
        begin = loop.time() + 0.1
        opened: list[float] = []
        lags: list[tuple[float, float]] = []  # (when, how late a turn timer woke)

        async def wait_until(when: float) -> None:
            due = max(when, loop.time())  # a turn already due (its open took a while) is due now, not late by that
            await asyncio.sleep(due - loop.time())
            now = loop.time()
            lags.append((now, max(0.0, now - due)))

        async def conversation(index: int) -> None:
            start = begin + pace * index / count
            await wait_until(start)
            async with peer(ws_url) as talk:
                opened.append(loop.time())
                for turn in range(turns):
                    await wait_until(start + turn * pace)
                    await talk(user_text(turn))

        outcomes = await asyncio.gather(*(conversation(index) for index in range(count)), return_exceptions=True)
        cpu = cpu_seconds() - base_cpu
        peak_rss = status_kb("VmHWM")
        await close_peer(peer)
    failures = [f"{type(outcome).__name__}: {outcome}" for outcome in outcomes if isinstance(outcome, BaseException)]
    all_open = max(opened, default=float("inf"))
    return {
        "completed": count - len(failures),
        "failures": failures[:3],
        "cpu_s": cpu,
        "rss_added_kb": peak_rss - base_rss,
        "lag_p99": percentile([lag for _, lag in lags], 0.99),
        "lag_p99_open": percentile([lag for when, lag in lags if when > all_open], 0.99),
        "open_s": all_open - begin,
        "all_open_at": all_open,  # time.monotonic(), the clock the simulator's perf_counter stamps are on
    }


def measure(peer: str, count: int, turns: int, pace: float) -> dict[str, Any]:
    """One (peer, N) cell: a fresh simulator and a fresh client process."""
    server = SimulatorProcess(skip=1)
    try:
        command = [sys.executable, __file__, "--client", peer, "--url", server.ws_url, "--n", str(count), "--turns", str(turns), "--pace", str(pace)]
        client = subprocess.run(command, capture_output=True, text=True, timeout=turns * pace + 300)
        if client.returncode != 0:
            raise RuntimeError(f"{peer} client process failed: {client.stderr.strip().splitlines()[-1:]}")
        result: dict[str, Any] = json.loads(client.stdout.strip().splitlines()[-1])
        result["spans"] = server.result(timeout=60)
        return result
    finally:
        server.kill()


def cells(result: dict[str, Any] | None, count: int, turns: int, pace: float) -> dict[str, float]:
    """One table row: the spans in ms, memory in MB per conversation, CPU per conversation-minute."""
    if result is None:
        return {}
    minutes = count * turns * pace / 60
    spans = result["spans"]
    return {
        "done": result["completed"],
        "dispatch p50": percentile(spans["tool dispatch"], 0.5) * 1000,
        "dispatch p99": percentile(spans["tool dispatch"], 0.99) * 1000,
        "disp p99 steady": percentile([span for span, at in zip(spans["tool dispatch"], spans["tool dispatch at"]) if at > result["all_open_at"]], 0.99) * 1000,
        "handoff p50": percentile(spans["handoff"], 0.5) * 1000,
        "handoff p99": percentile(spans["handoff"], 0.99) * 1000,
        "lag p99": result["lag_p99"] * 1000,
        "lag p99 steady": result["lag_p99_open"] * 1000,
        "all open s": result["open_s"],
        "MB/conv": result["rss_added_kb"] / 1024 / count,
        "CPU s/conv-min": result["cpu_s"] / minutes,
    }


COLUMNS = ("done", "dispatch p50", "dispatch p99", "disp p99 steady", "handoff p50", "handoff p99", "lag p99", "lag p99 steady", "all open s", "MB/conv", "CPU s/conv-min")


def render(table: dict[int, dict[str, dict[str, float]]], peers: list[str], turns: int, pace: float) -> None:
    print(f"{turns}-turn triage ⇄ billing conversations at one turn per {pace:g} s, N at once in one process; simulator in its own process")
    print("  ms for spans and lag (dispatch, handoff: server-side, trigger → answer received); MB of RSS per added conversation")
    print("  lag p99 steady: only once every conversation is open; all open s: seconds from the first start to the last conversation open")
    print("  bare: a raw websocket client with no logic, the simulator's own share at that N (its spans grow when the simulator saturates)")
    print(f"  {'N':>4} {'peer':14}" + "".join(f" {column:>15}" for column in COLUMNS))
    for count, by_peer in table.items():
        for peer in peers:
            row = by_peer.get(peer)
            if not row:
                print(f"  {count:>4} {peer:14} (failed)")
                continue
            print(f"  {count:>4} {peer:14}" + "".join(f" {row[column]:>15.3f}" if column != "done" else f" {int(row[column]):>11}/{count:<3}" for column in COLUMNS))
        if by_peer.get("runner"):
            for peer in peers:
                if peer in ("runner", "bare") or not by_peer.get(peer):
                    continue
                ratios = [by_peer[peer][column] / by_peer["runner"][column] if by_peer["runner"][column] else float("nan") for column in COLUMNS[1:]]
                print(f"  {count:>4} {peer + '/runner':14} {'':>15}" + "".join(f" {ratio:>14.1f}x" if column != "all open s" else f" {'':>15}" for column, ratio in zip(COLUMNS[1:], ratios)))
    print("  ratio: the peer's figure over runner's (above 1: runner is cheaper or faster).")
    print("  targets (reported, not asserted):")
    if table.get(200, {}).get("runner"):
        row = table[200]["runner"]
        print(f"    N=200 runner: every conversation completes: {'met' if row['done'] == 200 else 'missed'}; dispatch p99 < 10 ms: {'met' if row['dispatch p99'] < 10 else 'missed'}"
              f" (steady: {'met' if row['disp p99 steady'] < 10 else 'missed'}); <= 3 MB per added conversation: {'met' if row['MB/conv'] <= 3 else 'missed'}")
    for count, by_peer in table.items():
        for ours in ("runner", "runner-async"):  # runner-async: the tool on the loop, as openai-agents runs its sync tool
            if by_peer.get(ours) and by_peer.get("openai-agents"):
                ratio = by_peer["openai-agents"]["CPU s/conv-min"] / by_peer[ours]["CPU s/conv-min"]
                print(f"    N={count} {ours}: CPU per conversation-minute at least 2x below openai-agents': {'met' if ratio >= 2 else 'missed'} ({ratio:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", default="1,10,50,100,200", help="comma-separated conversation counts")
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--pace", type=float, default=1.0, help="seconds between a conversation's user turns")
    parser.add_argument("--peers", default="bare,runner,openai-agents", help=f"comma-separated, of: {', '.join(PEERS)}")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        print(json.dumps(asyncio.run(run_clients(args.client, args.url, int(args.n), args.turns, args.pace))), flush=True)
        return
    counts = [int(part) for part in args.n.split(",")]
    peers = [part.strip() for part in args.peers.split(",")]
    unknown = [peer for peer in peers if peer not in PEERS]
    if unknown:
        parser.error(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    table: dict[int, dict[str, dict[str, float]]] = {}
    for count in counts:
        table[count] = {}
        for peer in peers:
            try:
                result = measure(peer, count, args.turns, args.pace)
            except Exception as error:  # report what could not be measured, keep the rest
                print(f"  N={count} {peer}: not measured: {type(error).__name__}: {error}", file=sys.stderr)
                continue
            if result["failures"]:
                print(f"  N={count} {peer}: {count - result['completed']} conversation(s) failed, e.g. {result['failures'][0]}", file=sys.stderr)
            table[count][peer] = cells(result, count, args.turns, args.pace)
    render(table, peers, args.turns, args.pace)


if __name__ == "__main__":
    main()
