// The page's recording tap: posts each 128-frame block's two channels (you, the agent).
class RecorderProcessor extends AudioWorkletProcessor {
  process(inputs) {
    const input = inputs[0];
    if (input && input.length) {
      const left = input[0].slice();
      const right = input.length > 1 ? input[1].slice() : new Float32Array(left.length);
      this.port.postMessage([left, right], [left.buffer, right.buffer]);
    }
    return true;
  }
}

registerProcessor("recorder", RecorderProcessor);
