"""The audio ends of a voice session, chosen and checked before anything connects.

Devices and WAV files are resolved here so that a missing PortAudio, a missing device or
an unreadable WAV is one clear line before a session starts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from ..audio.capture import AudioInput, DeviceInput
from ..audio.devices import AudioDeviceError, list_devices, select_device
from ..audio.files import WavInput, WavOutput
from ..audio.formats import PCM, AudioFormat, audio_format
from ..audio.output import AudioOutput, DeviceOutput
from ..audio.playback import Player
from ..audio.wav import WavError
from ..config.model import Config, TurnDetection
from ..host.conversation import SetupError


@dataclass
class VoiceOptions:
    """How `runner run` talks and listens (the voice flags of the command)."""

    ptt: bool = False
    half_duplex: bool = False
    echo_gate: bool = True  # False: headphones, nothing to keep out (an --input-wav never gets one)
    input_device: str | None = None
    output_device: str | None = None
    input_wav: Path | None = None
    output_wav: Path | None = None
    fast: bool = False  # files: as fast as the data allows instead of real time
    record: bool = False
    cushion_ms: float = 60.0
    mic_block_ms: int = 40  # per `append`: the largest the loop allows, half the per-block cost of 20 ms
    speaker_block_ms: int = 40  # per device callback: playback stops within one block; 20 ms halves the
    # added output latency (about 55 instead of 100 ms) for about 0.25 CPU-s more per minute
    reply_timeout: float = 30.0  # s the reply may take once the input file has ended


def without_turn_detection(config: Config) -> Config:
    """Push-to-talk: no agent may have the server detect turns; the space bar does."""
    off = TurnDetection(type="none")
    agents = {
        name: replace(agent, session=replace(agent.session, turn_detection=off)) if agent.session is not None else agent
        for name, agent in config.agents.items()
    }
    return replace(config, session=replace(config.session, turn_detection=off), agents=agents)


@dataclass(frozen=True)
class WireFormats:
    """The session's audio formats: what the mic is sent as, what the replies come in."""

    input: AudioFormat
    output: AudioFormat

    @classmethod
    def of(cls, config: Config) -> WireFormats:
        """The start agent's formats; the audio path keeps them for the whole session."""
        start = config.agents.get(config.start)
        settings = config.session_for(start) if start is not None else config.session
        return cls(audio_format(settings.input_format), audio_format(settings.output_format))


@dataclass
class AudioEnds:
    """The chosen input and output, not yet started."""

    make_input: Callable[[], AudioInput]
    make_output: Callable[[Player], AudioOutput]
    description: str
    formats: WireFormats


def choose_audio(voice: VoiceOptions, formats: WireFormats) -> AudioEnds:
    """Resolve devices and decode the input WAV; raises SetupError with the reason.

    Audio between here and the wire is PCM16 at the formats' rates: devices are opened
    at them, the input WAV is converted to the input's, the output WAV is written in the
    output format itself.
    """
    if voice.ptt and voice.input_wav is not None:
        raise SetupError("--ptt needs someone at the space bar; it cannot be combined with --input-wav")
    input_index = output_index = None
    try:
        if voice.input_wav is None or voice.output_wav is None:
            devices = list_devices()
            if voice.input_wav is None:
                input_index = select_device(voice.input_device, "input", devices)
            if voice.output_wav is None:
                output_index = select_device(voice.output_device, "output", devices)
        wav_input = (
            WavInput(voice.input_wav, realtime=not voice.fast, block_ms=voice.mic_block_ms, rate=formats.input.rate)
            if voice.input_wav
            else None
        )
    except (AudioDeviceError, WavError) as problem:
        raise SetupError(str(problem)) from None
    if voice.output_wav is not None:
        try:
            voice.output_wav.parent.mkdir(parents=True, exist_ok=True)
            voice.output_wav.touch()
        except OSError as problem:
            raise SetupError(f"cannot write --output-wav {voice.output_wav}: {problem.strerror}") from None

    def make_input() -> AudioInput:
        if wav_input is not None:
            return wav_input
        return DeviceInput(device=input_index, block_ms=voice.mic_block_ms, rate=formats.input.rate)

    def make_output(player: Player) -> AudioOutput:
        if voice.output_wav is not None:
            return WavOutput(player, voice.output_wav, realtime=not voice.fast, block_ms=voice.speaker_block_ms, encoding=formats.output)
        return DeviceOutput(player, device=output_index, block_ms=voice.speaker_block_ms)

    heard_from = f"{voice.input_wav}" if voice.input_wav else f"input device {input_index}"
    played_to = f"{voice.output_wav}" if voice.output_wav else f"output device {output_index}"
    description = f"{heard_from} → {played_to}"
    if formats != WireFormats(PCM, PCM):
        description += f" ({formats.input.label} in, {formats.output.label} out)"
    return AudioEnds(make_input, make_output, description, formats)
