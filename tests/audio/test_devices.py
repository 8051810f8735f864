"""Choosing devices by index or name, and the messages when that cannot work."""

import os
import subprocess
import sys

import pytest

from runner.audio.devices import PORTAUDIO_MISSING, AudioDeviceError, Device, format_devices, select_device

DEVICES = [
    Device(0, "HDA Intel PCH: ALC257 Analog (hw:0,0)", "ALSA", 2, 2, False, False),
    Device(1, "HDA Intel PCH: HDMI 0 (hw:0,3)", "ALSA", 0, 8, False, False),
    Device(2, "USB Headset: Audio (hw:1,0)", "ALSA", 1, 2, False, False),
    Device(3, "default", "ALSA", 32, 32, True, True),
]


def test_none_selects_the_default_device():
    assert select_device(None, "input", DEVICES) == 3


def test_an_index_selects_that_device_as_int_or_string():
    assert select_device(2, "output", DEVICES) == 2
    assert select_device(" 2", "input", DEVICES) == 2


def test_a_name_part_selects_the_one_device_it_matches_case_insensitively():
    assert select_device("headset", "input", DEVICES) == 2
    assert select_device("HDMI", "output", DEVICES) == 1


def test_an_exact_name_wins_over_other_partial_matches():
    devices = [*DEVICES, Device(4, "default (PulseAudio)", "ALSA", 2, 2, False, False)]
    assert select_device("Default", "input", devices) == 3


def test_a_name_matching_several_devices_lists_them():
    with pytest.raises(AudioDeviceError) as excinfo:
        select_device("hda", "output", DEVICES)
    assert str(excinfo.value) == (
        "'hda' matches several output devices: 0 'HDA Intel PCH: ALC257 Analog (hw:0,0)', "
        "1 'HDA Intel PCH: HDMI 0 (hw:0,3)'; give the index or more of the name"
    )


def test_a_name_matching_no_device_of_that_kind_lists_the_candidates():
    with pytest.raises(AudioDeviceError) as excinfo:
        select_device("hdmi", "input", DEVICES)
    assert str(excinfo.value) == (
        "no input device matches 'hdmi'; input devices: 'HDA Intel PCH: ALC257 Analog (hw:0,0)', "
        "'USB Headset: Audio (hw:1,0)', 'default'"
    )


def test_an_index_that_does_not_exist_or_lacks_the_direction():
    with pytest.raises(AudioDeviceError) as missing:
        select_device(9, "input", DEVICES)
    assert str(missing.value) == "there is no audio device 9 (see --list-devices)"
    with pytest.raises(AudioDeviceError) as output_only:
        select_device("1", "input", DEVICES)
    assert str(output_only.value) == "audio device 1 (HDA Intel PCH: HDMI 0 (hw:0,3)) has no input channels (see --list-devices)"


def test_no_device_at_all_suggests_files_or_text():
    with pytest.raises(AudioDeviceError) as excinfo:
        select_device(None, "output", [])
    assert str(excinfo.value) == "no output audio device found; connect one, or use --output-wav FILE or --text"
    assert format_devices([]) == "no audio devices found"


def test_the_listing_shows_index_name_channels_and_defaults():
    assert format_devices(DEVICES[2:]) == (
        "  2  USB Headset: Audio (hw:1,0) (ALSA, 1 in, 2 out)\n"
        "  3  default (ALSA, 32 in, 32 out)  default input/output"
    )


def run_isolated(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter: PortAudio's device scan happens once per process."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, timeout=60
    )


def test_a_missing_portaudio_library_names_the_package_to_install():
    # ctypes finding no libportaudio is exactly what happens when libportaudio2 is not installed
    result = run_isolated(
        "import ctypes.util\n"
        "ctypes.util.find_library = lambda name: None\n"
        "from runner.audio.devices import AudioDeviceError, list_devices\n"
        "try:\n"
        "    list_devices()\n"
        "except AudioDeviceError as exc:\n"
        "    print(exc)\n"
    )
    assert result.stdout == PORTAUDIO_MISSING + "\n", result.stderr
    assert "apt-get install libportaudio2" in PORTAUDIO_MISSING
