"""N concurrent Twilio calls at real-time pace through one `runner serve` app, and its CPU per call-minute.

Three kinds of process, so the app's CPU time is its own: the simulator (`--sim`), the
app on uvicorn over it (`--serve`: the Twilio channel of `create_app`, with signature
checks on), and client processes (`--clients`) that each run their share of the calls
with the fake Twilio of tests/serve/fake_twilio.py: the signed voice webhook, the signed
stream, 20 ms μ-law frames each way in real time, marks echoed only once played.

Each call: the greeting plays, then the caller asks a question, the answer plays, the
caller hangs up at `--seconds` (20 s: about three times what greeting, question and answer
take at real time). A call completes when its caller heard the whole greeting and the
whole answer and the app wrote its report with `hung up by the caller`. Each kind of
process's CPU over the N calls (the app's and the simulator's user + system time from
/proc, all threads; the callers' own from after their imports) is divided by N × the
call length in minutes, for one call alone and then for each N at once; beside it the
load average when the run began (other work on the machine) and when the callers had
heard everything (median and slowest, seconds from the dial).

Then `--barge-ins` calls, one at a time in this process (app and simulator as in
tests/serve/test_twilio.py), where the caller talks over the story at a different point
each time: the truncate's `audio_end_ms` against what the fake caller had played when
the `clear` reached it (target: within one 20 ms frame).

    .venv/bin/python bench/bench_twilio.py [--n 25 50 100] [--seconds 20] [--client-processes 4] [--barge-ins 5]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fake Twilio lives with the tests

TOKEN = "bench-twilio-auth-token"
GREETING = "Hello, thanks for calling."
ANSWER = "Your order left the warehouse this morning."
RULES = f"""
default: "{ANSWER}"
user_transcript: "where is my order"
greeting: "{GREETING}"
rules: []
"""
PROJECT = """
version: 1
name: Bench phone desk
start: desk
session:
  turn_detection: {type: server_vad, silence_duration_ms: 300}
agents:
  desk:
    description: Answers the phone.
    instructions: You answer the phone.
    speaks_first: true
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def speech_frames(text: str) -> int:
    from runner.sim.speech import speech_ms

    return math.ceil(speech_ms(text) * 8 / 160)


# -- the simulator and the app, each in its own process ------------------------------
async def run_simulator() -> None:
    from runner.sim import Simulator, parse_rules

    async with Simulator(parse_rules(RULES, "<bench rules>")) as sim:
        print(sim.ws_base_url.rsplit(":", 1)[1].split("/")[0], flush=True)
        await asyncio.to_thread(sys.stdin.read)


async def run_app(sim_port: int, folder: Path, input_frames: str) -> None:
    import uvicorn

    from runner.host.project import load_project
    from runner.host.transports import OpenAITransport
    from runner.serve import create_app

    (folder / "agents.yaml").write_text(PROJECT)
    project = load_project(folder / "agents.yaml", environ={"TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_INPUT_FRAMES": input_frames})
    transport = OpenAITransport(api_key="sk-bench", base_url=f"http://127.0.0.1:{sim_port}/v1")
    app = create_app(project, transport, session_dir=folder / "sessions", max_calls=10_000)
    import socket

    listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    print(listener.getsockname()[1], flush=True)
    serving = asyncio.get_running_loop().create_task(server.serve(sockets=[listener]))
    await asyncio.to_thread(sys.stdin.read)
    server.should_exit = True
    await serving


# -- the callers ------------------------------------------------------------------------
async def one_call(base_url: str, seconds: float, start_after: float, question: bytes) -> dict[str, Any]:
    """One caller; `done_after` is when it had heard greeting and answer, in seconds from the dial (None: never)."""
    from tests.serve.fake_twilio import FakeTwilioCall

    await asyncio.sleep(start_after)
    call = FakeTwilioCall(base_url, TOKEN)
    began = time.monotonic()
    enough = speech_frames(GREETING) + speech_frames(ANSWER)
    try:
        if not await call.dial():
            raise RuntimeError(f"the app did not connect the call: {call.twiml}")
        greeting = speech_frames(GREETING)
        await call.wait_for(lambda: len(call.heard) >= greeting, timeout=seconds)
        call.say(question)
        with contextlib.suppress(TimeoutError):
            await call.wait_for(lambda: len(call.heard) >= enough, timeout=max(0.0, seconds - (time.monotonic() - began)))
        done_after = time.monotonic() - began if len(call.heard) >= enough else None
        await asyncio.sleep(max(0.0, seconds - (time.monotonic() - began)))
        heard = len(call.heard)
        await call.hang_up()
        return {"heard": heard, "clears": len(call.clears), "done_after": done_after, "error": None}
    except Exception as failure:  # reported as an incomplete call, not a crash of the whole run
        await call.close()
        return {"heard": len(call.heard), "clears": len(call.clears), "done_after": None, "error": f"{type(failure).__name__}: {failure}"}


async def run_callers(base_url: str, count: int, seconds: float, spread: float) -> None:
    """This process's share of the calls; its CPU is counted from here, after the imports, as a caller's own work."""
    from runner.audio.formats import PCMU
    from runner.sim.speech import synthesize
    import tests.serve.fake_twilio  # noqa: F401  (imported before the clock starts)

    question = PCMU.encode(synthesize("Where is my order, please?", 8000)) + b"\xff" * 4800
    started = time.process_time()
    calls = [one_call(base_url, seconds, spread * index / max(1, count), question) for index in range(count)]
    results = await asyncio.gather(*calls)
    print(json.dumps({"calls": results, "cpu": time.process_time() - started}), flush=True)


def callers(base_url: str, count: int, seconds: float, processes: int, spread: float) -> tuple[list[dict[str, Any]], float]:
    """The calls' results, and the CPU seconds the caller processes spent on the calls (not on starting up)."""
    shares = [count // processes + (1 if index < count % processes else 0) for index in range(processes)]
    running = [subprocess.Popen([sys.executable, __file__, "--callers", base_url, str(share), str(seconds), str(spread)],
                                stdout=subprocess.PIPE, text=True) for share in shares if share]
    results: list[dict[str, Any]] = []
    cpu = 0.0
    for process in running:
        out, _ = process.communicate(timeout=seconds + spread + 120)
        if process.returncode != 0:
            raise RuntimeError(f"a caller process failed with exit code {process.returncode}")
        share = json.loads(out.strip().splitlines()[-1])
        results += share["calls"]
        cpu += share["cpu"]
    return results, cpu


def completed(folder: Path, results: list[dict[str, Any]], seen: set[str]) -> tuple[int, list[str]]:
    """Calls whose caller heard greeting and answer in full and whose report says the caller hung up."""
    enough = speech_frames(GREETING) + speech_frames(ANSWER)
    problems = [result["error"] for result in results if result["error"]]
    problems += [f"heard {result['heard'] // 50 * 50}+ of the {enough} frames of greeting and answer, {result['clears']} clears"
                 for result in results if not result["error"] and result["heard"] < enough]
    reports = [folder for folder in (folder / "sessions").iterdir() if folder.name not in seen]
    seen.update(folder.name for folder in reports)
    ended = [reason for reason in (final_reason(report) for report in reports) if reason is not None]
    problems += [f"a report ended with {reason!r}" for reason in ended if reason != "hung up by the caller"]
    good = sum(1 for result in results if not result["error"] and result["heard"] >= enough)
    return min(good, ended.count("hung up by the caller")), problems


def final_reason(session: Path, timeout: float = 60.0) -> str | None:
    """The end reason of a session's final report.json (written once its conversation closed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reason = json.loads((session / "report.json").read_text()).get("end_reason")
        except (OSError, ValueError):
            reason = None
        if reason not in (None, "in progress"):
            return reason
        time.sleep(0.1)
    return None


async def barge_in_error(folder: Path, story_ms: float) -> tuple[int, int]:
    """One call cut `story_ms` into the story: (truncate audio_end_ms, ms the caller had heard of it)."""
    from tests.serve.test_twilio import frames, phone_line, speech

    async with phone_line(folder) as phone:
        call = await phone.dial()
        await call.wait_for(lambda: len(call.heard) >= 5 and phone.audio_items_done() >= 1)
        greeting = frames(phone.audio_bytes(0)[1])
        await call.wait_for(lambda: len(call.heard) == greeting)
        phone.simulator.expect_user_audio("tell me a story")
        call.say(speech("Please tell me a story."))
        await call.wait_for(lambda: len(call.heard) >= greeting + int(story_ms / 20))
        phone.simulator.expect_user_audio("stop")
        call.say(speech("Wait, wait, that is enough."))
        await call.wait_for(lambda: len(phone.received("conversation.item.truncate")) == 1)
        [truncate] = phone.received("conversation.item.truncate")
        heard = (call.clears[0].frames_heard - greeting) * 20
        await call.hang_up()
        await phone.wait_calls(0)
    return truncate["audio_end_ms"], heard


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100], help="concurrent calls, one run for each (default 100); one call alone runs first")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each call")
    parser.add_argument("--client-processes", type=int, default=4, help="processes the fake callers are spread over")
    parser.add_argument("--spread", type=float, default=2.0, help="seconds over which the N calls start")
    parser.add_argument("--keep", type=Path, help="keep the session folders in this folder (default: a temporary one, removed)")
    parser.add_argument("--input-frames", type=int, default=1, help="TWILIO_INPUT_FRAMES of the app: caller frames per append")
    parser.add_argument("--barge-ins", type=int, default=5, help="barge-in calls for the truncation accuracy (0: none)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-twilio-") as temporary:
        folder = options.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        sim = subprocess.Popen([sys.executable, __file__, "--sim"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert sim.stdout is not None and sim.stdin is not None
        sim_port = int(sim.stdout.readline())
        app = subprocess.Popen([sys.executable, __file__, "--serve", str(sim_port), str(folder), str(options.input_frames)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert app.stdout is not None and app.stdin is not None
        base_url = f"http://127.0.0.1:{int(app.stdout.readline())}"
        rows, failed, seen = [], False, set()
        try:
            callers(base_url, 1, 6.0, 1, 0.0)  # warm-up: imports and first-use caches
            completed(folder, [], seen)
            for count in sorted({1, *options.n}):
                load = os.getloadavg()[0]
                before, sim_before = cpu_seconds(app.pid), cpu_seconds(sim.pid)
                results, callers_used = callers(base_url, count, options.seconds, min(options.client_processes, count), options.spread if count > 1 else 0.0)
                used, sim_used = cpu_seconds(app.pid) - before, cpu_seconds(sim.pid) - sim_before
                done, problems = completed(folder, results, seen)
                failed |= done != count
                done_after = sorted(result["done_after"] for result in results if result["done_after"] is not None) or [math.nan]
                rows.append((count, done, load, [cpu / (count * options.seconds / 60) for cpu in (used, sim_used, callers_used)],
                             (statistics.median(done_after), done_after[-1]), collections.Counter(problems).most_common(3)))
        finally:
            app.stdin.close()
            app.wait(timeout=120)
            sim.stdin.close()
            sim.wait(timeout=60)
    print(f"Twilio Media Streams: {options.seconds:.0f} s calls at real-time pace through one app process (uvicorn), simulator in its own process, "
          f"TWILIO_INPUT_FRAMES={options.input_frames}, {os.cpu_count()} CPUs")
    print("CPU s per call-minute of each kind of process; 'heard all' is when a caller had heard greeting and answer (median / slowest, s from the dial)")
    print(f"{'calls':>6} {'completed':>10} {'load':>5} {'app':>7} {'simulator':>10} {'callers':>8} {'heard all':>12}")
    for count, done, load, (app_cpu, sim_cpu, callers_cpu), (median, slowest), problems in rows:
        print(f"{count:>6} {done:>10} {load:>5.2f} {app_cpu:>7.3f} {sim_cpu:>10.3f} {callers_cpu:>8.3f} {median:>5.1f} / {slowest:>4.1f}"
              + (f"   {problems}" if problems else ""))
    if options.barge_ins:
        errors = []
        with tempfile.TemporaryDirectory(prefix="bench-twilio-barge-in-") as temporary:
            for index in range(options.barge_ins):
                truncated, heard = asyncio.run(barge_in_error(Path(temporary) / str(index), 1000 + 730 * index))
                errors.append(truncated - heard)
                print(f"barge-in {index + 1}: truncated at {truncated} ms, the caller had heard {heard} ms ({truncated - heard:+d} ms)")
        worst = max(abs(error) for error in errors)
        print(f"truncation error: worst {worst} ms over {len(errors)} barge-ins (target: within one 20 ms frame)")
        failed |= worst > 20
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--sim"]:
        asyncio.run(run_simulator())
    elif sys.argv[1:2] == ["--serve"]:
        asyncio.run(run_app(int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]))
    elif sys.argv[1:2] == ["--callers"]:
        asyncio.run(run_callers(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])))
    else:
        sys.exit(main())
