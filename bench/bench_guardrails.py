"""What guardrail checks cost: regex per transcript delta, and an HTTP check's round trip.

A long assistant reply is streamed as 5-character deltas through the example project's
two regex policies (competitor words, unauthorised promises), the way the session
checks it: every 100 characters and once at the end, and, for comparison, on every
delta.  Each schedule runs with the checker's incremental scanning and with a full
rescan of the text per check, at two reply lengths, so the ratios show what resuming
saves and whether the cost per check stays flat as the reply grows.  Then the median
round trip of a moderation and a classifier check through the real `openai` client
against the local RestSimulator (loopback, so this is the runner's own overhead; a real
endpoint adds its network and model time).

    .venv/bin/python bench/bench_guardrails.py
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Awaitable, Callable

from openai import AsyncOpenAI

from runner.config import load
from runner.config.model import Guardrail
from runner.guardrails import GuardrailChecker, RegexPolicy
from runner.sim.rest import RestSimulator

EXAMPLE = Path(__file__).resolve().parents[1] / "agents.yaml"
DELTA_CHARS = 5
CHECK_EVERY = 100
REPLY_LENGTHS = (2_000, 10_000)
REPEATS = 7
HTTP_CHECKS = 50
SENTENCE = (
    "Thanks for calling TechCorp, your laptop order is confirmed and ships tomorrow; "
    "the tracking number will arrive by email and support is here if anything goes wrong. "
)


def example_regex_policies() -> dict[str, Guardrail]:
    config = load(EXAMPLE, import_code=False).config
    if config is None:
        raise SystemExit(f"{EXAMPLE} does not load: run `runner validate` on it")
    return {name: policy for name, policy in config.guardrails.items() if policy.kind == "regex"}


def check_points(length: int, every_delta: bool) -> list[tuple[int, bool]]:
    """(prefix length, final) for each check the session would ask for."""
    ends = range(DELTA_CHARS, length + DELTA_CHARS, DELTA_CHARS)
    points, next_check = [], CHECK_EVERY
    for end in (min(end, length) for end in ends):
        if every_delta or end >= next_check:
            points.append((end, end == length))
            next_check = end + CHECK_EVERY
    if points[-1] != (length, True):
        points.append((length, True))
    return points


async def incremental_run(policies: dict[str, Guardrail], reply: str, points: list[tuple[int, bool]]) -> float:
    checker = GuardrailChecker(policies)
    started = time.perf_counter()
    for end, final in points:
        text = reply[:end]  # the session hands over the whole text so far, as a new string
        for name in policies:
            verdict = await checker.check(name, text, final=final)
            assert not verdict.tripped, verdict
    return time.perf_counter() - started


async def full_scan_run(policies: dict[str, Guardrail], reply: str, points: list[tuple[int, bool]]) -> float:
    compiled = [RegexPolicy(policy) for policy in policies.values()]
    started = time.perf_counter()
    for end, final in points:
        text = reply[:end]
        for policy in compiled:
            assert policy.find(text, settled_only=not final) is None
    return time.perf_counter() - started


def median_seconds(run: Callable[..., Awaitable[float]], policies: dict[str, Guardrail], reply: str, points: list[tuple[int, bool]]) -> float:
    return statistics.median(asyncio.run(run(policies, reply, points)) for _ in range(REPEATS))


async def http_round_trips() -> dict[str, float]:
    policies = {
        "moderation": Guardrail(name="moderation", kind="moderation"),
        "classifier": Guardrail(name="classifier", kind="classifier", instructions="TechCorp's brand rules."),
    }
    medians = {}
    async with RestSimulator() as rest:
        factory = lambda: AsyncOpenAI(base_url=rest.base_url, api_key="sk-bench")  # noqa: E731
        async with GuardrailChecker(policies, client_factory=factory) as checker:
            for name in policies:
                await checker.check(name, SENTENCE)  # warm up: client creation and connection
                samples = []
                for _ in range(HTTP_CHECKS):
                    started = time.perf_counter()
                    verdict = await checker.check(name, SENTENCE)
                    samples.append(time.perf_counter() - started)
                    assert verdict.error is None, verdict
                medians[name] = statistics.median(samples)
    return medians


def main() -> None:
    policies = example_regex_policies()
    print(f"regex check cost: policies {', '.join(policies)}; {DELTA_CHARS}-character deltas; median of {REPEATS} runs")
    print(f"{'reply':>7} {'schedule':>17} {'checks':>7} {'scan':>12} {'us/delta':>9} {'us/check':>9} {'full/incr':>10}")
    for length in REPLY_LENGTHS:
        reply = (SENTENCE * (length // len(SENTENCE) + 1))[:length]
        deltas = len(range(0, length, DELTA_CHARS))
        for every_delta, schedule in ((False, f"every {CHECK_EVERY} + end"), (True, "every delta")):
            points = check_points(length, every_delta)
            checks = len(points) * len(policies)
            incremental = median_seconds(incremental_run, policies, reply, points)
            full = median_seconds(full_scan_run, policies, reply, points)
            for scan, seconds in (("incremental", incremental), ("full rescan", full)):
                ratio = f"{full / incremental:9.1f}x" if scan == "incremental" else ""
                print(
                    f"{length:>7} {schedule:>17} {checks:>7} {scan:>12} "
                    f"{seconds / deltas * 1e6:>9.2f} {seconds / checks * 1e6:>9.2f} {ratio:>10}"
                )
    print()
    print(f"HTTP check round trip through AsyncOpenAI to RestSimulator on 127.0.0.1 (median of {HTTP_CHECKS}):")
    for name, seconds in asyncio.run(http_round_trips()).items():
        print(f"  {name:<11} {seconds * 1e3:6.2f} ms")


if __name__ == "__main__":
    main()
