"""`runner run` with voice: microphone (or WAV) in, speaker (or WAV) out, through the core.

The core decides turns, barge-in, truncation and the connection's state; this loop
moves audio and reads those states (`core.state`), keeping none of its own. Streams start
only once the session is configured (no audio reaches the model before its
instructions). Mic blocks go to the conversation's `send_audio`, unless the echo policy or push-to-talk holds them back.
Assistant audio is fed to a `Player`, whose accounting answers `StopPlayback` and tells
the core when an item was fully heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from ..audio.capture import AudioInput, MicBlock
from ..audio.devices import AudioDeviceError, load_sounddevice
from ..audio.echo import EchoGate, HalfDuplex
from ..audio.output import AudioOutput
from ..audio.pcm import SAMPLE_BYTES
from ..audio.playback import Player
from ..audio.recorder import Recorder
from ..audio.thinking import ThinkingSounds
from ..audio.wav import WavError
import runner

from ..core.records import Notice, Record, ThinkingStarted, ThinkingStopped
from ..core.states import Connection, Playback, UserTurn
from .chat import Opening
from .console import Console
from .interrupts import Interrupts, ctrl_c_ends_cleanly
from .voice_audio import AudioEnds, VoiceOptions, WireFormats, choose_audio, without_turn_detection
from .voice_keys import KeyReader, SpaceBar, cbreak_terminal
from .voice_metrics import VoiceMetrics, summary_lines

STATUS_SECONDS = 0.1  # status line, recording flush, key release checks
TRAILING_SILENCE_MS = 1500  # after the input file: lets the server's VAD end the turn


class VoiceLoop:
    """One voice conversation's audio side, attached to a live session once it is configured."""

    def __init__(self, voice: VoiceOptions, ends: AudioEnds, console: Console, sounds: ThinkingSounds | None = None) -> None:
        self.voice = voice
        self.sounds = sounds if sounds is not None else ThinkingSounds({})
        self.ends = ends
        self.console = console
        self.formats = ends.formats
        self.player = Player(
            cushion_ms=voice.cushion_ms, rate=self.formats.output.rate, on_item_finished=self._finished_from_audio_thread, on_played=self._played
        )
        self.echo = echo_control(voice, ends.formats)
        self.live: runner.Conversation | None = None
        self.metrics = VoiceMetrics(0.0)
        self.recorder: Recorder | None = None
        self.input: AudioInput | None = None
        self.output: AudioOutput | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.space_bar = SpaceBar(on_press=self._talk_start, on_release=self._talk_stop)

    # -- hooks from the driver (event loop thread) --------------------------------
    def record(self, record: Record, t: float) -> None:
        """Records go to the console; the thinking sound's cue goes to the player (it mixes the clip)."""
        if isinstance(record, ThinkingStarted):
            self.player.think(self.sounds.clip(record.agent))
        elif isinstance(record, ThinkingStopped):
            self.player.stop_thinking()
        self.console.record(record, t)

    def event(self, direction: str, event: dict[str, Any], t: float) -> None:
        kind = event.get("type")
        if direction == "out":
            if kind in ("input_audio_buffer.append", "session.input_audio.append"):
                self.metrics.append_sent(time.monotonic())
                return
            if kind == "conversation.item.truncate":
                self.metrics.truncated(event["item_id"], event["audio_end_ms"])
        self.console.event(direction, event, t)

    # -- the driver's audio output ------------------------------------------------
    def play(self, item_id: str, audio: bytes) -> None:
        """`Play`: decode the wire format, queue; the first chunk of an item is timed for its turn."""
        assert self.live is not None
        latencies = self.live.core.latencies
        self.metrics.item_audio(item_id, latencies[-1] if latencies else None, time.monotonic())
        self.player.feed(item_id, self.formats.output.decode(audio))

    def end_item(self, item_id: str) -> None:
        """`AudioComplete`: the item's last audio is queued; the player reports when it was heard."""
        self.player.end_item(item_id)

    def stop(self) -> tuple[str | None, int]:
        """`StopPlayback`: fade, drop the queue, and say how much of which item was heard."""
        return self.player.stop()

    # -- hooks from the audio threads ---------------------------------------------
    def _played(self, pcm: bytes, heard_at: float) -> None:
        if self.echo is not None:
            self.echo.note_played(pcm, heard_at)
        if self.recorder is not None:
            self.recorder.add_agent(pcm, heard_at)

    def _finished_from_audio_thread(self, item_id: str) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._finished, item_id)

    def _finished(self, item_id: str) -> None:
        if self.live is not None:
            self.live.audio_played(item_id)

    # -- start and stop -----------------------------------------------------------
    def attach(self, live: runner.Conversation) -> None:
        """The session is configured: start the streams."""
        self.live = live
        self._loop = asyncio.get_running_loop()
        self.metrics = VoiceMetrics(time.monotonic() - live.driver.now())
        live.driver.attach_audio(self)
        if self.voice.record:
            self.recorder = Recorder(
                live.folder / "recording.wav", origin=time.monotonic(), user_rate=self.formats.input.rate, agent_rate=self.formats.output.rate
            )
        self.output = self.ends.make_output(self.player)
        self.input = self.ends.make_input()
        try:
            self.output.start()
            self.input.start()
        except AudioDeviceError as problem:
            raise runner.SetupError(str(problem)) from None
        except Exception as problem:
            if isinstance(problem, load_sounddevice().PortAudioError):
                raise runner.SetupError(f"cannot open the audio device: {problem}") from None
            raise

    def close(self) -> None:
        for stream in (self.input, self.output):
            if stream is not None:
                stream.close()
        if self.recorder is not None:
            self.recorder.close()

    # -- the microphone -----------------------------------------------------------
    async def pump_microphone(self) -> None:
        """Send mic blocks until the input ends (files), then a little silence for the VAD."""
        assert self.input is not None
        while (block := await self.input.read()) is not None:
            await self._mic_block(block)
        block_ms = self.voice.mic_block_ms
        silence = bytes(block_ms * self.formats.input.rate // 1000 * SAMPLE_BYTES)
        started = time.monotonic()
        for index in range(TRAILING_SILENCE_MS // block_ms):
            due = started + index * block_ms / 1000
            if not self.voice.fast:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            await self._mic_block(MicBlock(silence, due))
        await asyncio.sleep(0)

    async def _mic_block(self, block: MicBlock) -> None:
        assert self.live is not None
        if self.recorder is not None:
            self.recorder.add_user(block.pcm, block.captured_at)
        if self.voice.ptt:
            if not self.space_bar.talking:
                return
        elif self.echo is not None and not self.echo.admit(block.pcm, block.captured_at):
            return
        self.metrics.append_queued(time.monotonic())
        await self.live.send_audio(self.formats.input.encode(block.pcm))

    # -- push-to-talk -------------------------------------------------------------
    def _talk_start(self) -> None:
        assert self.live is not None
        self.live.driver.apply(self.live.core.begin_user_turn(self.live.driver.now()))

    def _talk_stop(self) -> None:
        assert self.live is not None
        self.live.driver.apply(self.live.core.commit_user_turn(self.live.driver.now()))

    def settle_playback(self) -> None:
        """The conversation is over: audio still queued will not be heard, so record what was."""
        if self.live is not None and self.live.core.state.playback is not Playback.SILENT:
            item_id, played_ms = self.stop()
            self.live.driver.apply(self.live.core.playback_stopped(item_id, played_ms, self.live.driver.now()))

    # -- waiting --------------------------------------------------------------------
    def reply_finished(self) -> bool:
        """Nothing more to hear: no speech in progress, the last turn answered and fully played."""
        assert self.live is not None
        state = self.live.core.state
        return state.user is UserTurn.IDLE and state.playback is Playback.SILENT and not self.live.core.busy

    async def wait_reply(self) -> bool:
        """Until the reply is heard; on GPT-Live, which gives no sign while it listens, until
        nothing has been owed for the core's `input_settle_seconds`."""
        assert self.live is not None
        settle = getattr(self.live.core, "input_settle_seconds", 0.0)
        deadline = time.monotonic() + self.voice.reply_timeout + settle
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            if self.live.driver.ended:
                return True
            if not self.reply_finished():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            if quiet_since is not None and time.monotonic() - quiet_since >= settle:
                return True
            await asyncio.sleep(0.02)
        return False

    # -- the status line --------------------------------------------------------------
    def status_text(self) -> str:
        assert self.live is not None
        states = self.live.core.state
        connection = "● live" if states.connection is Connection.LIVE else f"○ {states.connection.value}"
        if states.playback is Playback.PLAYING:
            state = "agent speaking"
        elif self.voice.ptt:
            state = "talking (space to send)" if self.space_bar.talking else "space to talk"
        else:
            state = "you are speaking" if states.user is UserTurn.SPEAKING else "listening"
        level = self.input.level if self.input is not None else 0.0
        bars = round(level * 10)
        return f"{connection} · {self.live.core.active_agent} · {state} · mic {'▮' * bars}{'·' * (10 - bars)}"

    async def keep_status(self, keys: KeyReader | None) -> None:
        while True:
            await asyncio.sleep(STATUS_SECONDS)
            if keys is not None:
                keys.tick()
            if self.recorder is not None:
                self.recorder.flush(time.monotonic())
            self.console.status(self.status_text())


def echo_control(voice: VoiceOptions, formats: WireFormats) -> EchoGate | HalfDuplex | None:
    """The policy that keeps the agent's own voice out of the input.

    A WAV file cannot contain echo, so it gets none unless --half-duplex asks for one:
    the default gate would only drop a barge-in recorded in the file.
    """
    rates = {"output_rate": formats.output.rate, "input_rate": formats.input.rate}
    if voice.half_duplex:
        return HalfDuplex(**rates)
    if voice.echo_gate and voice.input_wav is None:
        return EchoGate(**rates)
    return None


def _hint(voice: VoiceOptions, target: str) -> str:
    if voice.ptt:
        return "push-to-talk: press space to talk, press again (or let go) to send; Ctrl-C ends"
    if voice.half_duplex:
        return "half duplex: the mic is muted while the agent speaks; Ctrl-C ends"
    if voice.input_wav is not None:
        return "the input file is sent as it is, also while the agent speaks; Ctrl-C ends"
    if not voice.echo_gate:
        return "no echo gate: use headphones, or the agent will hear itself; Ctrl-C ends"
    alternatives = "--no-echo-gate" if target == "live" else "--no-echo-gate; or --ptt"  # GPT-Live ends the turns itself
    return f"speak when ready; without headphones an echo gate keeps the agent from hearing itself (headphones: {alternatives}); Ctrl-C ends"


async def _converse(loop: VoiceLoop, voice: VoiceOptions, interrupts: Interrupts) -> None:
    live = loop.live
    assert live is not None
    keys = None
    if voice.ptt:
        keys = KeyReader(sys.stdin.fileno(), loop.space_bar, clock=time.monotonic)
        keys.start()
    # Every wake-up costs CPU for the whole session: poll only for what needs it.
    needs_polling = keys is not None or loop.recorder is not None or loop.console.shows_status
    status = asyncio.ensure_future(loop.keep_status(keys) if needs_polling else asyncio.Event().wait())
    talking = asyncio.ensure_future(_talk_until_input_ends(loop, voice))
    stopping = asyncio.ensure_future(interrupts.requested.wait())
    ending = asyncio.ensure_future(live.driver.wait_ended())
    try:
        await asyncio.wait({talking, stopping, ending}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (status, talking, stopping, ending):
            task.cancel()
        if keys is not None:
            keys.close()
        loop.console.status(None)
    if stopping.done() and not live.driver.ended:
        live.driver.apply(live.core.interrupt(live.driver.now()))  # the user cut it off: truncate what was heard
    loop.settle_playback()


async def _talk_until_input_ends(loop: VoiceLoop, voice: VoiceOptions) -> None:
    await loop.pump_microphone()
    if not await loop.wait_reply():
        loop.console.record(Notice(f"the reply did not finish within {voice.reply_timeout:g} s of the end of the input"), 0.0)


async def run_voice(
    project: runner.Project, transport: Any, opening: Opening, voice: VoiceOptions, *, console: Console, status: TextIO = sys.stderr
) -> tuple[Path, runner.Outcome, list[str]]:
    """Hold a voice conversation; returns the session folder, how it ended and the summary lines.

    The transport is made first, so a missing API key is reported before any audio device.
    """
    if voice.ptt and not sys.stdin.isatty():
        raise runner.SetupError("--ptt reads the space bar from a terminal, and standard input is not one")
    ends = choose_audio(voice, WireFormats.of(project.config))
    if voice.ptt:
        project = runner.Project(without_turn_detection(project.config), guardrails=project.guardrails_enabled, environ=project.environ)
    try:
        sounds = ThinkingSounds.for_config(project.config, ends.formats.output.rate)
    except WavError as problem:
        raise runner.SetupError(f"thinking_sound: {problem}") from None
    loop = VoiceLoop(voice, ends, console, sounds)
    try:
        with ctrl_c_ends_cleanly() as interrupts, cbreak_terminal(sys.stdin.fileno()) if voice.ptt else contextlib.nullcontext():
            async with runner.Host(project, transport=transport, max_conversations=1) as host, host.open(
                variables=opening.variables, session_dir=opening.session_dir, start=opening.start,
                on_record=loop.record, on_event=loop.event, stop_setup=(interrupts.requested,), records=False,
            ) as live:
                try:
                    loop.attach(live)
                    interrupts.attach(live, lambda message: print(f"runner: {message}", file=status, flush=True))
                    where = opening.where(transport)
                    print(f"runner: talking to {project.name} ({live.core.active_agent}) on the {where}; audio {ends.description}", file=status)
                    print(f"runner: {_hint(voice, project.config.target)}", file=status)
                    await _converse(loop, voice, interrupts)
                finally:
                    if loop.input is not None:
                        loop.input.close()
    finally:
        loop.close()
        console.close()
    report_path = live.folder / "report.json"
    report = json.loads(report_path.read_text(encoding="utf-8"))
    report["voice"] = loop.metrics.report(live.core.latencies, loop.player)
    live.artifacts.report(report)
    assert live.outcome is not None
    return live.folder, live.outcome, summary_lines(report["voice"])
