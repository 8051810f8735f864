"""G.711 μ-law and A-law: bit-exact against the standard's reference values and `audioop`."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

from runner.audio import g711
from runner.audio.formats import PCM, PCMA, PCMU, audio_format, session_object

EVERY_SAMPLE = np.arange(-32768, 32768, dtype="<i2").tobytes()
EVERY_CODE = bytes(range(256))


def _audioop():
    if sys.version_info >= (3, 13):
        pytest.skip("audioop left the standard library in Python 3.13")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    return audioop


def test_ulaw_matches_audioop_for_every_sample_and_every_code() -> None:
    audioop = _audioop()
    assert g711.ulaw_from_pcm16(EVERY_SAMPLE) == audioop.lin2ulaw(EVERY_SAMPLE, 2)
    assert g711.pcm16_from_ulaw(EVERY_CODE) == audioop.ulaw2lin(EVERY_CODE, 2)


def test_alaw_matches_audioop_for_every_sample_and_every_code() -> None:
    audioop = _audioop()
    assert g711.alaw_from_pcm16(EVERY_SAMPLE) == audioop.lin2alaw(EVERY_SAMPLE, 2)
    assert g711.pcm16_from_alaw(EVERY_CODE) == audioop.alaw2lin(EVERY_CODE, 2)


def pcm(*values: int) -> bytes:
    return np.array(values, dtype="<i2").tobytes()


def test_reference_values_of_the_standard() -> None:
    # μ-law: silence is 0xFF, full scale 0x80/0x00 (decoding to ±32124); A-law: the smallest steps are 0xD5/0x55 (±8).
    assert g711.ulaw_from_pcm16(pcm(0, 32767, -32768, 1000, -1000)) == bytes([0xFF, 0x80, 0x00, 0xCE, 0x4E])
    assert g711.pcm16_from_ulaw(bytes([0xFF, 0x80, 0x00, 0x7F])) == pcm(0, 32124, -32124, 0)
    assert g711.alaw_from_pcm16(pcm(0, -1, 32767, -32768)) == bytes([0xD5, 0x55, 0xAA, 0x2A])
    assert g711.pcm16_from_alaw(bytes([0xD5, 0x55, 0xAA, 0x2A])) == pcm(8, -8, 32256, -32256)


def test_decoded_codes_encode_back_to_themselves() -> None:
    """What lets a G.711 reply pass through PCM16 inside the runner and come out unchanged."""
    assert g711.alaw_from_pcm16(g711.pcm16_from_alaw(EVERY_CODE)) == EVERY_CODE
    negative_zero = 0x7F  # μ-law's -0 decodes to 0 like 0xFF; no encoder produces it
    ulaw = bytes(code for code in EVERY_CODE if code != negative_zero)
    assert g711.ulaw_from_pcm16(g711.pcm16_from_ulaw(ulaw)) == ulaw
    assert negative_zero not in g711.ulaw_from_pcm16(EVERY_SAMPLE)


def test_an_odd_length_is_refused() -> None:
    with pytest.raises(ValueError, match=r"odd length \(3 bytes\)"):
        g711.ulaw_from_pcm16(b"abc")


def test_formats_by_name_and_in_the_services_shape() -> None:
    assert (audio_format("audio/pcmu"), audio_format({"type": "audio/pcma"}), audio_format({"type": "audio/pcm", "rate": 24000})) == (PCMU, PCMA, PCM)
    assert [session_object(f) for f in (PCM, PCMU, PCMA)] == [{"type": "audio/pcm", "rate": 24000}, {"type": "audio/pcmu"}, {"type": "audio/pcma"}]
    assert (PCMU.rate, PCMU.wire_bytes, PCMU.wire_ms(bytes(160))) == (8000, 1, 20.0)
    with pytest.raises(ValueError, match="unknown audio format 'g711_ulaw'"):
        audio_format("g711_ulaw")
