"""Helpers for the voice tests: spoken WAVs, the runner as a subprocess, the virtual speaker.

The headless PulseAudio comes from tests/audio/pulse/start-pulse.sh (see conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import wave
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest

from tests.waits import wait_until

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CONFIG = FIXTURES / "agents.yaml"
RULES = FIXTURES / "rules.yaml"
RUNNER = [sys.executable, "-m", "runner"]
AUDIO_TOOLS = ("pulseaudio", "pactl", "paplay", "parecord", "parec", "espeak-ng", "sox")
INSTALL_HINT = "apt-get install pulseaudio pulseaudio-utils libasound2-plugins libportaudio2 espeak-ng sox"
TIMEOUT = 60.0  # generous: CI machines are slow and loaded


def need_tools(tools: tuple[str, ...]) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        message = f"voice tests need {', '.join(missing)}: {INSTALL_HINT}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def spoken(folder: Path, name: str, text: str, *, rate: int = 24000) -> Path:
    """`text` spoken by espeak-ng, converted with sox to `rate` Hz mono PCM16, with 0.3 s of silence after."""
    raw, wav = folder / f"{name}.raw.wav", folder / f"{name}.wav"
    if not wav.exists():
        subprocess.run(["espeak-ng", "-w", str(raw), text], check=True)
        subprocess.run(["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(wav), "pad", "0", "0.3"], check=True)
    return wav


def read_mono(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2")


class RunnerProcess:
    """`python -m runner ...` with its output collected line by line as it comes.

    Reader threads append each line under a condition and notify it, so a test waits for
    a line (or the end of the stream) instead of polling.
    """

    def __init__(self, args: list[str], env: dict[str, str], *, stdin: Any = subprocess.DEVNULL) -> None:
        self.process = subprocess.Popen(RUNNER + args, cwd=ROOT, env=env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr: list[str] = []
        self.stdout: list[str] = []
        self._arrived = threading.Condition()
        self._ended: set[int] = set()  # ids of the line lists whose stream reached its end
        self._readers = [
            threading.Thread(target=self._collect, args=(self.process.stderr, self.stderr), daemon=True),
            threading.Thread(target=self._collect, args=(self.process.stdout, self.stdout), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _collect(self, stream: Any, lines: list[str]) -> None:
        for line in stream:
            with self._arrived:
                lines.append(line.rstrip("\n"))
                self._arrived.notify_all()
        with self._arrived:
            self._ended.add(id(lines))
            self._arrived.notify_all()

    def wait_for_stderr(self, text: str, timeout: float = TIMEOUT) -> None:
        """Wait for a stderr line containing `text`; fail if stderr ends or `timeout` s pass first."""
        def seen() -> bool:
            return any(text in line for line in self.stderr)

        with self._arrived:
            self._arrived.wait_for(lambda: seen() or id(self.stderr) in self._ended, timeout)
            if seen():
                return
            lines = "\n".join(self.stderr)
        if self.process.poll() is not None:
            raise AssertionError(f"runner exited ({self.process.returncode}) before {text!r}:\n{lines}")
        raise AssertionError(f"no {text!r} on stderr within {timeout} s:\n{lines}")

    def interrupt_and_wait(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.wait()

    def wait(self, timeout: float = TIMEOUT) -> int:
        code = self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextmanager
def running(args: list[str], env: dict[str, str], **kwargs: Any) -> Iterator[RunnerProcess]:
    runner = RunnerProcess(args, env, **kwargs)
    try:
        yield runner
    finally:
        runner.kill()


def play_into_mic(path: Path, env: dict[str, str]) -> None:
    subprocess.run(["paplay", "-d", "micsink", str(path)], env=env, check=True, timeout=TIMEOUT)


def session_folder(parent: Path) -> Path:
    (folder,) = [path for path in parent.iterdir() if path.is_dir()]
    return folder


def events(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()]


def wait_for_event(folder_parent: Path, kind: str, *, count: int = 1, timeout: float = TIMEOUT) -> None:
    """Wait until the session's events.jsonl holds `count` events of type `kind`."""
    wait_until(lambda: _count_in_session(folder_parent, "events.jsonl", lambda entry: entry["event"].get("type") == kind) >= count,
               timeout, f"{count}x {kind} in events.jsonl")


def wait_for_reply_heard(folder_parent: Path, timeout: float = TIMEOUT) -> None:
    """Wait until transcript.jsonl has an assistant entry: the reply was played to its end."""
    wait_until(lambda: _count_in_session(folder_parent, "transcript.jsonl", lambda entry: entry["kind"] == "assistant") >= 1,
               timeout, "the reply heard in full (an assistant entry in transcript.jsonl)")


def _count_in_session(folder_parent: Path, name: str, matches: Callable[[dict[str, Any]], bool]) -> int:
    """Whole lines of `name` in the one session folder under `folder_parent` that match (0 before it exists)."""
    folders = [path for path in folder_parent.iterdir() if path.is_dir()] if folder_parent.exists() else []
    if not folders or not (folders[0] / name).exists():
        return 0
    whole = (folders[0] / name).read_text(encoding="utf-8").rpartition("\n")[0]  # a line being written is not yet whole
    return sum(1 for line in whole.splitlines() if matches(json.loads(line)))


def audio_bytes_sent(folder: Path, item_id: str | None = None) -> int:
    """Bytes of assistant audio the simulator sent (events.jsonl keeps only their length)."""
    total = 0
    for entry in events(folder):
        event = entry["event"]
        if entry["dir"] == "in" and event.get("type") == "response.output_audio.delta" and item_id in (None, event["item_id"]):
            total += int(event["delta"].strip("<>").split()[0])
    return total
