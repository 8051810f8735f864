"""The voice loop over the headless audio path: CPU per minute, added local latency, truncation accuracy.

`runner run` (voice, real sounddevice streams on a private headless PulseAudio; the
simulator as the model, in its own process as the real API would be, so its VAD and
speech synthesis do not count as the runner's CPU) holds a conversation at real-time pace: espeak-ng
utterances are played into the virtual mic, every reply plays out on the virtual
speaker, which parecord captures, and every third turn the user talks over the reply
(barge-in). Printed: the runner process's CPU seconds per minute, minute by minute and
in total (also per minute of assistant audio, the unit of the openai-agents figure:
about 2.2 s; target under 1 s); the local latency it adds (mic block on the event loop →
append handed to the socket; audio delta received → first sample heard, cushion and device
latency included) beside the 120 ms the openai-agents sounddevice demo prebuffers; and
each truncation's `audio_end_ms` against where the reply stopped on the speaker.

    .venv/bin/python bench/bench_voice.py [--minutes 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from runner.sim.speech import synthesize

ROOT = Path(__file__).resolve().parents[1]
PULSE = ROOT / "tests" / "audio" / "pulse"
CONFIG = ROOT / "tests" / "voice" / "fixtures" / "agents.yaml"
RULES = ROOT / "tests" / "voice" / "fixtures" / "rules.yaml"
REPLY = "Thanks for calling, how can I help?"  # the fixture rules' reply to every turn
UTTERANCES = ("Hello, I need some help with my internet, please.", "My bill looks higher than last month.", "Can you tell me about the new plans?")
INTERRUPTION = "Wait, one moment."
AGENTS_CPU_PER_AUDIO_MINUTE = 2.2
DEMO_PREBUFFER_MS = 120.0
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime, all threads


def start_pulse(directory: str) -> dict[str, str]:
    started = subprocess.run([str(PULSE / "start-pulse.sh"), directory], capture_output=True, text=True, check=True)
    env = dict(os.environ)
    for assignment in shlex.split(started.stdout.split("export ", 1)[1]):
        name, value = assignment.split("=", 1)
        env[name] = value
    return env


def speak(folder: Path, index: int, text: str) -> Path:
    raw, wav = folder / f"u{index}.raw.wav", folder / f"u{index}.wav"
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "24000", "-c", "1", "-b", "16", str(wav)], check=True)
    return wav


def event_count(folder: Path, kind: str) -> int:
    path = folder / "events.jsonl"
    return path.read_text().count(f'"type": "{kind}"') if path.exists() else 0


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("bench_voice: the conversation stalled (no reply within 30 s)")
        time.sleep(0.02)


def stopped_at_ms(capture: np.ndarray, reply: np.ndarray) -> list[tuple[float, float]]:
    """Where each interrupted reply stopped on the speaker: (earliest, latest) ms into the reply.

    Playback stops with a 10 ms fade, so the truncation point is where the captured audio
    first differs from the reply, plus the fade. When the cut falls in a pause of the
    reply, silence was heard either way: any point in that pause is right, so the
    earliest is the end of the last audible sample before it.
    """
    voiced = np.flatnonzero(reply)
    cuts, position = [], 0
    nonzero = np.flatnonzero(capture)
    while True:
        later = nonzero[nonzero >= position]
        if not later.size:
            return cuts
        start = later[0] - voiced[0]
        heard = capture[start : start + reply.size]
        differs = np.flatnonzero(heard != reply[: heard.size])
        if differs.size and differs[0] < reply.size - 24 * 50:
            audible = np.flatnonzero(heard[: differs[0]])
            cuts.append(((audible[-1] + 1) / 24, differs[0] / 24 + 10))
            position = start + differs[0] + 24 * 300
        else:
            position = start + reply.size
        position = max(position, later[0] + 1)


def outside(value: float, span: tuple[float, float]) -> float:
    """Signed distance of `value` from the interval (0 inside)."""
    return value - span[1] if value > span[1] else value - span[0] if value < span[0] else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="conversation length (the issue's target: 5)")
    minutes = parser.parse_args().minutes
    work = Path(tempfile.mkdtemp(prefix="bench-voice."))
    pulse_dir = tempfile.mkdtemp(prefix="bench-voice-pulse.", dir="/tmp")
    env = start_pulse(pulse_dir)
    try:
        run(work, env, minutes)
    finally:
        subprocess.run([str(PULSE / "stop-pulse.sh"), pulse_dir], check=False)


def run(work: Path, env: dict[str, str], minutes: float) -> None:
    said = [speak(work, index, text) for index, text in enumerate(UTTERANCES)]
    interruption = speak(work, 9, INTERRUPTION)
    reply = np.frombuffer(synthesize(REPLY), "<i2")
    processes: list[subprocess.Popen[str]] = []
    try:
        cpu, elapsed, turns, folder = converse(work, env, minutes, said, interruption, reply, processes)
    finally:
        for process in processes:  # after a failure: nothing of ours keeps running
            if process.poll() is None:
                process.kill()
    report(folder, work / "spk.wav", reply, cpu, elapsed, turns)


def converse(work: Path, env: dict[str, str], minutes: float, said: list[Path], interruption: Path, reply: np.ndarray, processes: list[subprocess.Popen[str]]) -> tuple[float, float, int, Path]:
    """The conversation itself; returns the runner's CPU seconds, the wall seconds, the turns and the session folder."""
    sessions = work / "sessions"
    capture = subprocess.Popen(["parecord", "-d", "spk.monitor", "--rate=24000", "--channels=1", "--format=s16le", "--file-format=wav", str(work / "spk.wav")], env=env, text=True)
    processes.append(capture)
    time.sleep(0.3)
    simulator = subprocess.Popen([sys.executable, "-m", "runner.sim", "--rules", str(RULES)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    processes.append(simulator)
    websocket_url = simulator.stdout.readline().split()[1]  # "realtime: ws://127.0.0.1:P/v1 ..."
    runner = subprocess.Popen(
        [sys.executable, "-m", "runner", "run", str(CONFIG), "--base-url", websocket_url.replace("ws://", "http://"), "--session-dir", str(sessions), "--no-echo-gate"],
        cwd=ROOT, env={**env, "OPENAI_API_KEY": "sk-simulator"}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    processes.append(runner)
    time.sleep(1.0)
    wait_until(lambda: sessions.exists() and any(sessions.iterdir()))
    folder = next(sessions.iterdir())
    wait_until(lambda: event_count(folder, "session.updated") >= 1)
    started, cpu_at_start = time.monotonic(), cpu_seconds(runner.pid)
    print(f"bench_voice: {minutes:g} min of conversation at real-time pace over the headless audio path")
    print(f"{'minute':>6} {'cpu s/min':>10} {'turns':>6}")
    turn, last_minute, cpu_last, turns_last, wall_last = 0, 0, cpu_at_start, 0, started
    while time.monotonic() - started < minutes * 60:
        turn += 1
        replies = event_count(folder, "response.done")
        subprocess.run(["paplay", "-d", "micsink", str(said[turn % len(said)])], env=env, check=True)
        wait_until(lambda: event_count(folder, "response.done") > replies)
        if turn % 3 == 0:
            time.sleep(1.2)
            truncates = event_count(folder, "conversation.item.truncate")
            subprocess.run(["paplay", "-d", "micsink", str(interruption)], env=env, check=True)
            wait_until(lambda: event_count(folder, "conversation.item.truncate") > truncates)
            wait_until(lambda: event_count(folder, "response.done") > replies + 1)
        time.sleep(reply.size / 24000 + 0.8)
        minute = int((time.monotonic() - started) // 60)
        if minute > last_minute:
            now_cpu = cpu_seconds(runner.pid)
            wall = time.monotonic()
            print(f"{minute:>6} {(now_cpu - cpu_last) / ((wall - wall_last) / 60):>10.2f} {turn - turns_last:>6}", flush=True)
            last_minute, cpu_last, turns_last, wall_last = minute, now_cpu, turn, wall
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(runner.pid) - cpu_at_start
    runner.send_signal(signal.SIGINT)
    runner.wait(timeout=60)
    simulator.send_signal(signal.SIGINT)
    simulator.wait(timeout=10)
    time.sleep(0.3)
    capture.send_signal(signal.SIGINT)
    capture.wait(timeout=10)
    return cpu, elapsed, turn, folder



def report(folder: Path, capture_path: Path, reply: np.ndarray, cpu: float, elapsed: float, turns: int) -> None:
    voice = json.loads((folder / "report.json").read_text())["voice"]
    lines = [json.loads(line)["event"] for line in (folder / "events.jsonl").read_text().splitlines()]
    audio_seconds = sum(int(e["delta"].strip("<>").split()[0]) for e in lines if e["type"] == "response.output_audio.delta") / 48000
    truncates = [e["audio_end_ms"] for e in lines if e["type"] == "conversation.item.truncate"]
    with wave.open(str(capture_path)) as wav:
        captured = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    cuts = stopped_at_ms(captured, reply)
    per_minute = cpu / (elapsed / 60)
    per_audio_minute = cpu / (audio_seconds / 60) if audio_seconds else float("nan")
    local = voice["local"]
    print(f"total: {elapsed / 60:.2f} min, {turns} turns, {audio_seconds:.0f} s of assistant audio received")
    print(f"cpu per minute of conversation:   {per_minute:.2f} s  (target < 1.0: {'ok' if per_minute < 1 else 'MISSED'})")
    print(f"cpu per minute of assistant audio: {per_audio_minute:.2f} s  (openai-agents realtime client ~{AGENTS_CPU_PER_AUDIO_MINUTE}: ratio {per_audio_minute / AGENTS_CPU_PER_AUDIO_MINUTE:.2f})")
    for name, label in (("mic_block_to_append", "mic block on the event loop → append sent"), ("delta_to_first_heard", "audio delta received → first sample heard")):
        summary = local[name]
        if summary:
            print(f"{label}: median {summary['median_ms']:.1f} ms, p90 {summary['p90_ms']:.1f} ms, max {summary['max_ms']:.1f} ms ({summary['count']})")
    heard = local["delta_to_first_heard"]
    if heard:
        print(f"  vs the openai-agents sounddevice demo's {DEMO_PREBUFFER_MS:.0f} ms prebuffer alone: ratio {heard['median_ms'] / DEMO_PREBUFFER_MS:.2f}")
    errors = [outside(truncate, span) for truncate, span in zip(truncates, cuts)]
    if errors:
        worst = max(abs(error) for error in errors)
        print(f"truncation: {len(errors)} barge-ins, audio_end_ms outside where the speaker stopped: median {float(np.median(errors)):+.1f} ms, worst {worst:.1f} ms (tests allow 40)")
    if len(truncates) != len(cuts):
        print(f"truncation: {len(truncates)} truncates sent but {len(cuts)} cut replies found on the speaker")


if __name__ == "__main__":
    main()
