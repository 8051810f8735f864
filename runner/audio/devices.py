"""Finding audio devices, with messages a user can act on.

sounddevice raises a bare OSError at import when the PortAudio library is missing and
PortAudio reports devices by index; these helpers turn both into clear errors and let
`--input-device/--output-device` take an index or part of a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Literal

Kind = Literal["input", "output"]

PORTAUDIO_MISSING = (
    "the PortAudio library is not installed, so audio devices cannot be used; "
    "install it with `apt-get install libportaudio2` (macOS: `brew install portaudio`), "
    "or use --text, or --input-wav/--output-wav"
)


class AudioDeviceError(Exception):
    """No usable audio device, or a device choice that does not identify one."""


@dataclass(frozen=True, slots=True)
class Device:
    index: int
    name: str
    hostapi: str
    inputs: int  # max input channels
    outputs: int  # max output channels
    default_input: bool
    default_output: bool

    def channels(self, kind: Kind) -> int:
        return self.inputs if kind == "input" else self.outputs

    def describe(self) -> str:
        defaults = [kind for kind, flag in (("input", self.default_input), ("output", self.default_output)) if flag]
        default = f"  default {'/'.join(defaults)}" if defaults else ""
        return f"{self.index:>3}  {self.name} ({self.hostapi}, {self.inputs} in, {self.outputs} out){default}"


def load_sounddevice() -> ModuleType:
    """Import sounddevice, turning a missing PortAudio into an `AudioDeviceError`."""
    try:
        import sounddevice
    except OSError:
        raise AudioDeviceError(PORTAUDIO_MISSING) from None
    return sounddevice


def list_devices() -> list[Device]:
    """All devices PortAudio sees, in PortAudio's index order."""
    sd = load_sounddevice()
    hostapis = [api["name"] for api in sd.query_hostapis()]
    default_in, default_out = sd.default.device
    return [
        Device(
            index=index,
            name=info["name"],
            hostapi=hostapis[info["hostapi"]],
            inputs=info["max_input_channels"],
            outputs=info["max_output_channels"],
            default_input=index == default_in,
            default_output=index == default_out,
        )
        for index, info in enumerate(sd.query_devices())
    ]


def format_devices(devices: list[Device]) -> str:
    """The `--list-devices` listing."""
    if not devices:
        return "no audio devices found"
    return "\n".join(device.describe() for device in devices)


def select_device(choice: str | int | None, kind: Kind, devices: list[Device] | None = None) -> int:
    """The device index for `--input-device/--output-device`: None (the default), an index or a name part."""
    devices = list_devices() if devices is None else devices
    usable = [device for device in devices if device.channels(kind) > 0]
    if not usable:
        flag = "--input-wav FILE" if kind == "input" else "--output-wav FILE"
        raise AudioDeviceError(f"no {kind} audio device found; connect one, or use {flag} or --text")
    if choice is None:
        default = [device for device in usable if (device.default_input if kind == "input" else device.default_output)]
        return (default or usable)[0].index
    if isinstance(choice, int) or choice.strip().isdigit():
        return _by_index(int(choice), kind, devices)
    return _by_name(choice, kind, usable)


def _by_index(index: int, kind: Kind, devices: list[Device]) -> int:
    by_index = {device.index: device for device in devices}
    device = by_index.get(index)
    if device is None:
        raise AudioDeviceError(f"there is no audio device {index} (see --list-devices)")
    if device.channels(kind) == 0:
        raise AudioDeviceError(f"audio device {index} ({device.name}) has no {kind} channels (see --list-devices)")
    return index


def _by_name(name: str, kind: Kind, usable: list[Device]) -> int:
    wanted = name.strip().lower()
    exact = [device for device in usable if device.name.lower() == wanted]
    matches = exact or [device for device in usable if wanted in device.name.lower()]
    if len(matches) == 1:
        return matches[0].index
    if not matches:
        names = ", ".join(repr(device.name) for device in usable)
        raise AudioDeviceError(f"no {kind} device matches {name!r}; {kind} devices: {names}")
    listed = ", ".join(f"{device.index} {device.name!r}" for device in matches)
    raise AudioDeviceError(
        f"{name!r} matches several {kind} devices: {listed}; give the index or more of the name"
    )
