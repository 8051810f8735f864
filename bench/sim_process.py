"""The simulator in its own process, and the spans it times server-side, for the session benchmarks.

It runs with Python's garbage collector off (see `serve`), and a run is short enough that
what it keeps fits in memory.

The simulated model follows rules rather than a queued script, so any number of
conversations, sequential or concurrent, each get the same turns: every user turn the
model calls the no-op tool; when the user text asks for a transfer it then hands off to
the other agent (triage ⇄ billing, recognised by its instructions); then it says "done".

`SimConnection.sent_at` / `received_at` stamp every frame with `time.perf_counter()` as it
goes out and comes in, so each span is the client's whole reaction: socket read, parsing,
dispatch, the no-op tool, serialising and writing.

- tool dispatch: the simulator sends `response.function_call_arguments.done` for `noop`
  → it receives that call's `function_call_output`.
- handoff: it sends a transfer call's `response.function_call_arguments.done` → it
  receives the new agent's `session.update` (also printed from that response's
  `response.done`).

    python bench/sim_process.py --serve SKIP   # what SimulatorProcess runs, until stdin closes
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from typing import Any

MODEL = "gpt-realtime-2.1"
AGENTS = ("triage", "billing")
KINDS = ("tool dispatch", "handoff", "handoff from response.done")
TRIGGERED_AT = {"tool dispatch": "tool dispatch at", "handoff": "handoff at"}  # each span's trigger, on the monotonic clock every process shares
TRANSFER_TEXT = "go and transfer"
PLAIN_TEXT = "go"
CLOSE_TIMEOUT = 30.0  # seconds for every client connection to close once the clients are done

RULES = """\
default: done
user_transcript: go
filler: One moment.
after_transfer: done
greeting: done
agents:
  triage: {instructions: 'You are triage'}
  billing: {instructions: 'You are billing'}
rules:
  - after_tool: [transfer_to_triage, transfer_to_billing]
    say: done
  - after_tool: [noop]
    when: transfer
    agent: triage
    transfer: billing
  - after_tool: [noop]
    when: transfer
    agent: billing
    transfer: triage
  - after_tool: [noop]
    say: done
  - when: '.'
    call: {name: noop, args: {}}
"""

Spans = dict[str, list[float]]


def user_text(turn: int) -> str:
    """Every odd turn asks for a transfer, so a 20-turn conversation has 20 tool calls and 10 handoffs."""
    return TRANSFER_TEXT if turn % 2 else PLAIN_TEXT


def instructions(agent: str) -> str:
    return f"You are {agent}. Answer briefly."


def spans(connection: Any) -> Spans:
    """Seconds from each server-side trigger to the client's answer, read off one connection."""
    sent = list(zip(connection.sent_at, connection.sent))
    received = list(zip(connection.received_at, connection.received))
    outputs = {event["item"]["call_id"]: at for at, event in received if event["type"] == "conversation.item.create" and event["item"]["type"] == "function_call_output"}
    updates = [at for at, event in received if event["type"] == "session.update"]
    done_at = {event["response"]["id"]: at for at, event in sent if event["type"] == "response.done"}
    result: Spans = {kind: [] for kind in (*KINDS, *TRIGGERED_AT.values())}
    for at, event in sent:
        if event["type"] != "response.function_call_arguments.done":
            continue
        if event["name"] == "noop":
            if event["call_id"] in outputs:
                result["tool dispatch"].append(outputs[event["call_id"]] - at)
                result["tool dispatch at"].append(at)
            continue
        update = next((when for when in updates if when > at), None)
        if update is not None:
            result["handoff"].append(update - at)
            result["handoff at"].append(at)
            result["handoff from response.done"].append(update - done_at[event["response_id"]])
    return result


async def serve(skip: int) -> None:
    """Serve clients until stdin closes, then print the spans of all connections but the first `skip` as JSON."""
    # imported here, not at the top: the bench's client processes import this module for its
    # helpers, and the simulator's numpy would start OpenBLAS threads that cost them CPU
    from runner.sim import Simulator, parse_rules

    async with Simulator(parse_rules(RULES, "<bench rules>")) as sim:
        print(sim.ws_base_url, flush=True)
        # The simulator stands in for the service, which does not stop for Python's collector:
        # it keeps every frame of every connection for the spans, and with the collector on,
        # its full passes (300 ms at N = 200) landed in the clients' spans.
        gc.freeze()
        gc.disable()
        await asyncio.to_thread(sys.stdin.read)
        await asyncio.wait_for(asyncio.gather(*(connection.ws.wait_closed() for connection in sim.connections)), CLOSE_TIMEOUT)
        counted: Spans = {kind: [] for kind in (*KINDS, *TRIGGERED_AT.values())}
        errors: list[str] = []
        for index, connection in enumerate(sim.connections):
            errors += [event["error"]["message"] for event in connection.sent if event["type"] == "error"]
            if index >= skip:
                for kind, values in spans(connection).items():
                    counted[kind] += values
        print(json.dumps({"spans": counted, "errors": errors}), flush=True)


class SimulatorProcess:
    """`python bench/sim_process.py --serve SKIP` as a child process; `result()` once the clients are done."""

    def __init__(self, skip: int = 0) -> None:
        command = [sys.executable, __file__, "--serve", str(skip)]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        self.port = int(self._process.stdout.readline().strip().rsplit(":", 1)[1].split("/")[0])

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    @property
    def http_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def result(self, timeout: float = 120) -> Spans:
        """Tell the simulator the clients are done (stdin closes) and read its spans."""
        out, _ = self._process.communicate(timeout=timeout)
        report = json.loads(out)
        if report["errors"]:
            raise RuntimeError(f"the simulator answered with errors: {report['errors'][:3]}")
        return report["spans"]

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (fraction 0.5 = median), in the values' own unit."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))] if ordered else float("nan")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"] and len(sys.argv) == 3:
        asyncio.run(serve(int(sys.argv[2])))
    else:
        raise SystemExit("usage: python bench/sim_process.py --serve SKIP   (serves until stdin closes)")
