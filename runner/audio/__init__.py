"""Audio for the voice loop: devices, capture, playback, WAV files, echo control, recording.

Everything speaks 24 kHz mono PCM16 (`pcm.py`). The driver feeds assistant audio to a
`playback.Player` and reads `capture.MicBlock`s from an input; whether those are real
devices (`output.DeviceOutput`, `capture.DeviceInput`) or WAV files (`files.WavOutput`,
`files.WavInput`) does not change the driver. sounddevice is imported only when a device
is opened (`devices.load_sounddevice`), so importing this package never needs PortAudio.
"""
