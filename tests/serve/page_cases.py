"""The web client in real Chromium against `runner serve` and the simulator's WebRTC peer.

Run by tests/serve/test_page.py, each case in a network namespace with loopback only
(tests/netns.py). Chromium is Debian's (/usr/bin/chromium) driven by Playwright; its
microphone is a WAV spoken by espeak-ng. The simulator cannot recognise speech, so each
case says what the caller's turns "said" (`expect_user_audio`), in order; the rules of
the example project (agents.yaml, runner/sim/rules/techcorp.yaml) decide the replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import wave
from pathlib import Path
from typing import Any, AsyncIterator, Sequence

import numpy as np
from playwright.async_api import Page, async_playwright, expect

from runner.host.project import load_project
from runner.host.transports import SimulatorTransport
from runner.serve import create_app
from tests.netns import require_loopback_only
from tests.served import on_uvicorn

require_loopback_only()
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SHOTS = Path("/tmp/runner-shots")
RATE = 48000
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--allow-loopback-in-peer-connection", "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required",
]


def run(body: Any, timeout: float = 90) -> Any:
    return asyncio.run(asyncio.wait_for(body(), timeout))


def spoken_wav(path: Path, script: Sequence[tuple[float, str]], tail: float = 20.0) -> Path:
    """A 48 kHz mono WAV: for each (silence seconds, words), that much silence then espeak-ng saying the words."""
    pieces: list[np.ndarray] = []
    for index, (pause, words) in enumerate(script):
        pieces.append(np.zeros(int(pause * RATE), dtype=np.int16))
        spoken = path.with_name(f"{path.stem}-{index}.wav")
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "230", "-w", str(spoken), words], check=True, capture_output=True)
        with wave.open(str(spoken)) as source:
            samples = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2").astype(np.float64)
            rate = source.getframerate()
        times = np.arange(int(len(samples) * RATE / rate)) * rate / RATE
        pieces.append(np.interp(times, np.arange(len(samples)), samples).astype(np.int16))
    pieces.append(np.zeros(int(tail * RATE), dtype=np.int16))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(np.concatenate(pieces).tobytes())
    return path


def example_project(folder: Path) -> Path:
    """The repository's example (agents.yaml and its SQLite tools) in a folder of its own, so its state is the test's."""
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "agents.yaml", folder / "agents.yaml")
    shutil.copytree(ROOT / "tools", folder / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    return folder / "agents.yaml"


@contextlib.asynccontextmanager
async def serving(tmp_path: Path) -> AsyncIterator[tuple[str, SimulatorTransport]]:
    """The app on uvicorn in this event loop over the simulator with the example's rules; yields its URL."""
    transport = SimulatorTransport("techcorp")
    app = create_app(load_project(example_project(tmp_path / "project"), environ={}), transport, session_dir=tmp_path / "sessions")
    async with on_uvicorn(app) as url:
        yield url, transport


class Browser:
    """One Chromium with a fresh profile and `microphone` as its fake capture device; the page's console errors kept."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console_errors: list[str] = []
        page.on("console", lambda message: self.console_errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda failure: self.console_errors.append(f"uncaught: {failure}"))

    async def shot(self, tmp_path: Path, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        SHOTS.mkdir(exist_ok=True)
        shutil.copy(path, SHOTS / path.name)
        return path


@contextlib.asynccontextmanager
async def chromium(tmp_path: Path, microphone: Path, *, viewport: dict[str, int] | None = None) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        flags = [*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={microphone}%noloop"]
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=flags, headless=True, accept_downloads=True,
            viewport=viewport or {"width": 1200, "height": 800}, env={**os.environ, "HOME": str(tmp_path)},
        )
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            browser = Browser(page)
            try:
                yield browser
            except BaseException:
                await browser.shot(tmp_path, f"failed-{tmp_path.name}")
                raise
        finally:
            await context.close()


def session_folder(tmp_path: Path) -> Path:
    folders = list((tmp_path / "sessions").iterdir())
    assert len(folders) == 1, folders
    return folders[0]


def test_a_spoken_call_barge_in_a_tool_on_the_server_and_a_handoff(tmp_path: Path) -> None:
    microphone = spoken_wav(tmp_path / "caller.wav", [(2.0, "My number is five five five, one two three, four five six seven."),
                                                       (5.5, "Can a person call me back please?")])

    async def body() -> None:
        async with serving(tmp_path) as (url, transport), chromium(tmp_path, microphone) as browser:
            transport.simulator.expect_user_audio("My number is (555) 123-4567.")
            transport.simulator.expect_user_audio("Can a person call me back please?")
            page = browser.page
            await page.goto(url)
            await expect(page.locator("h1")).to_have_text("TechCorp customer service")
            await page.get_by_role("button", name="Connect").click()
            await expect(page.locator("#status")).to_have_attribute("data-state", "connected", timeout=5000)
            await expect(page.locator("#agent")).to_have_text("router")
            transcript = page.locator("#transcript")
            greeting = transcript.locator("li.agent").first
            await expect(greeting).to_have_class("agent interrupted", timeout=10000)  # the caller spoke over the greeting
            heard = float((await greeting.locator(".meta").inner_text()).removeprefix("heard ").removesuffix(" s"))
            assert 0 < heard < 3, heard  # the service cut the ~7 s greeting where the caller began, and said so
            await expect(transcript.locator("li.user").first).to_contain_text("My number is (555) 123-4567.", timeout=10000)
            await expect(transcript.locator("li.tool").first).to_contain_text("authenticate_user — done", timeout=10000)
            await expect(transcript.locator("li.agent").nth(1)).to_contain_text("you're verified", timeout=10000)
            await expect(transcript.locator("li.handoff")).to_contain_text("router → human", timeout=20000)
            await expect(page.locator("#agent")).to_have_text("human")
            await expect(transcript.locator("li.tool", has_text="request_callback — done")).to_have_count(1, timeout=10000)
            await expect(transcript.locator("li.user").first.locator(".meta")).to_contain_text("Turn 1: reply after")
            await transcript.locator("li.tool summary", has_text="request_callback").click()
            await expect(transcript.locator("li.tool", has_text="request_callback").locator(".arguments")).to_contain_text('"phone": "(555) 123-4567"')
            log = page.locator("#log")
            await expect(log.locator("li.out").first).to_be_visible()
            await expect(log.locator("li.in", has_text="output_audio_buffer.cleared").first).to_be_visible()
            await log.locator("li.out summary", has_text="session.update").first.click()
            await expect(log.locator("li.out pre").first).to_contain_text('"type": "session.update"')
            await browser.shot(tmp_path, "page-call")
            database = sqlite3.connect(tmp_path / "project" / ".runner" / "techcorp.db")
            rows = database.execute("SELECT phone, customer_id FROM callbacks").fetchall()
            assert rows == [("(555) 123-4567", "CUST-1001")], rows
            await page.get_by_role("button", name="Disconnect").click()
            await expect(page.locator("#status")).to_have_text("Call ended")
            assert browser.console_errors == []
        report = json.loads((session_folder(tmp_path) / "report.json").read_text())
        assert [handoff["target"] for handoff in report["handoffs"]] == ["human"], report["handoffs"]

    run(body)


def wav_levels(path: Path) -> tuple[int, float, float, float]:
    """(channels, seconds, loudest left sample, loudest right sample) of a PCM16 WAV."""
    with wave.open(str(path)) as recording:
        channels, rate = recording.getnchannels(), recording.getframerate()
        samples = np.frombuffer(recording.readframes(recording.getnframes()), dtype="<i2").reshape(-1, channels)
    return channels, len(samples) / rate, float(np.abs(samples[:, 0]).max()), float(np.abs(samples[:, -1]).max())


def test_by_keyboard_at_phone_width_push_to_talk_over_pcmu_then_the_recording_and_hangup(tmp_path: Path) -> None:
    microphone = spoken_wav(tmp_path / "caller.wav", [(2.0, "My number is five five five, one two three, four five six seven.")])

    async def body() -> None:
        async with serving(tmp_path) as (url, transport), chromium(tmp_path, microphone, viewport={"width": 390, "height": 844}) as browser:
            transport.simulator.expect_user_audio("My number is (555) 123-4567.")
            page = browser.page
            await page.goto(url)
            await page.locator("#codec").select_option("pcmu")
            await page.locator("#ptt").focus()
            await page.keyboard.press("Space")
            await expect(page.locator("#ptt")).to_be_checked()
            await page.locator("#connect").focus()
            await page.keyboard.press("Enter")
            await expect(page.locator("#status")).to_have_attribute("data-state", "connected", timeout=5000)
            await expect(page.locator("#codec-used")).to_have_text("codec: PCMU")
            log = page.locator("#log")
            await expect(log.locator("li.out", has_text="session.update (page)").first).to_be_attached()
            talk = page.get_by_role("button", name="Hold to talk")
            await expect(talk).to_be_enabled()
            await talk.focus()
            await page.keyboard.down(" ")  # held while the caller speaks (the WAV's words start 2 s after the microphone opened)
            await expect(talk).to_have_attribute("aria-pressed", "true")
            await asyncio.sleep(5.0)
            await page.keyboard.up(" ")
            await expect(log.locator("li.out", has_text="input_audio_buffer.commit (page)")).to_have_count(1)
            transcript = page.locator("#transcript")
            await expect(transcript.locator("li.user").first).to_contain_text("My number is (555) 123-4567.", timeout=10000)
            await expect(transcript.locator("li.agent", has_text="you're verified")).to_have_count(1, timeout=10000)
            await expect(transcript.locator("li.agent").first).to_have_class("agent interrupted")  # pressing to talk cut the greeting
            await expect(log.locator("li.out", has_text="output_audio_buffer.clear (page)")).to_have_count(1)
            await expect(log.locator("li.in", has_text="output_audio_buffer.stopped").last).to_be_attached(timeout=10000)
            await talk.press(" ")  # a tap too short to say anything: the service refuses the commit, the log shows it in red
            refused = log.locator("li.error", has_text="error").first
            await expect(refused).to_be_visible(timeout=5000)
            await expect(refused).to_have_css("color", "rgb(179, 38, 30)")
            await refused.locator("summary").click()
            await expect(refused.locator("pre")).to_contain_text("input_audio_buffer_commit_empty")
            await page.get_by_role("button", name="Mute").press("Enter")
            await expect(page.get_by_role("button", name="Unmute")).to_have_attribute("aria-pressed", "true")
            async with page.expect_download() as download_info:
                await page.get_by_role("button", name="Download recording").press("Enter")
            download = await download_info.value
            saved = tmp_path / download.suggested_filename
            await download.save_as(saved)
            await browser.shot(tmp_path, "page-phone")
            await page.get_by_role("button", name="Disconnect").press("Enter")
            await expect(page.locator("#status")).to_have_text("Call ended")
            assert await log.locator("li.error").count() == 1, await log.locator("li.error").all_inner_texts()
            assert browser.console_errors == []
        channels, seconds, user_peak, agent_peak = wav_levels(saved)
        assert saved.name.startswith("call-rtc_sim") and channels == 2 and seconds > 5, (saved, channels, seconds)
        assert user_peak > 1000 and agent_peak > 1000, (user_peak, agent_peak)
        report = json.loads((session_folder(tmp_path) / "report.json").read_text())
        assert report["end_reason"] == "hung up by the caller", report["end_reason"]

    run(body)


def test_a_guardrail_trip_is_marked_on_the_reply_it_stopped(tmp_path: Path) -> None:
    microphone = spoken_wav(tmp_path / "silence.wav", [], tail=15.0)

    async def body() -> None:
        async with serving(tmp_path) as (url, transport), chromium(tmp_path, microphone) as browser:
            transport.simulator.script([{"say": "Welcome to TechCorp. Honestly, Globex makes a cheaper laptop."}])
            page = browser.page
            await page.goto(url)
            await page.get_by_role("button", name="Connect").click()
            tripped = page.locator("#transcript li.agent.tripped")
            await expect(tripped).to_have_count(1, timeout=10000)
            await expect(tripped.locator(".trip")).to_have_text("Guardrail competitor_mentions (competitor): block — matched \"Globex\"")
            await expect(tripped).to_contain_text("Globex")
            await expect(page.locator("#transcript li.agent", has_text="Thanks for calling TechCorp")).to_have_count(1, timeout=10000)
            await browser.shot(tmp_path, "page-guardrail")
            await page.get_by_role("button", name="Disconnect").click()
            await expect(page.locator("#status")).to_have_text("Call ended")
            assert browser.console_errors == []
        transcript = (session_folder(tmp_path) / "transcript.jsonl").read_text()
        assert '"kind": "guardrail", "policy": "competitor_mentions"' in transcript

    run(body)
