// The page's recording of both sides, as a stereo WAV (you left, the agent right): in a
// WebRTC call the audio never passes through the server, so the page records it.
"use strict";

class Recorder {
  constructor() {
    this.left = [];
    this.right = [];
    this.frames = 0;
  }

  async start(mic) {
    this.context = new AudioContext();
    await this.context.audioWorklet.addModule("/static/recorder-worklet.js");
    this.merger = this.context.createChannelMerger(2);
    this.context.createMediaStreamSource(mic).connect(this.merger, 0, 0);
    this.node = new AudioWorkletNode(this.context, "recorder", { numberOfInputs: 1, numberOfOutputs: 0, channelCount: 2, channelCountMode: "explicit" });
    this.node.port.onmessage = (message) => this.take(message.data);
    this.merger.connect(this.node);
  }

  addAgent(stream) {
    if (this.context && stream.getAudioTracks().length) this.context.createMediaStreamSource(stream).connect(this.merger, 0, 1);
  }

  take([left, right]) {
    this.left.push(left);
    this.right.push(right);
    this.frames += left.length;
  }

  stop() {
    if (this.context && this.context.state !== "closed") this.context.close();
  }

  wav() {
    const rate = this.context ? this.context.sampleRate : 48000;
    const bytes = new DataView(new ArrayBuffer(44 + this.frames * 4));
    const text = (offset, value) => [...value].forEach((char, i) => bytes.setUint8(offset + i, char.charCodeAt(0)));
    text(0, "RIFF"); bytes.setUint32(4, 36 + this.frames * 4, true); text(8, "WAVE"); text(12, "fmt ");
    bytes.setUint32(16, 16, true); bytes.setUint16(20, 1, true); bytes.setUint16(22, 2, true);
    bytes.setUint32(24, rate, true); bytes.setUint32(28, rate * 4, true); bytes.setUint16(32, 4, true); bytes.setUint16(34, 16, true);
    text(36, "data"); bytes.setUint32(40, this.frames * 4, true);
    let offset = 44;
    this.left.forEach((left, block) => {
      const right = this.right[block];
      for (let i = 0; i < left.length; i++) {
        bytes.setInt16(offset, clamp(left[i]), true);
        bytes.setInt16(offset + 2, clamp(right[i]), true);
        offset += 4;
      }
    });
    return new Blob([bytes], { type: "audio/wav" });
  }
}

function clamp(sample) {
  return Math.max(-32768, Math.min(32767, Math.round(sample * 32767)));
}
