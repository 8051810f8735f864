// The runner web client: WebRTC to the service through this server (POST /calls), the
// call drawn from the server's feed (GET /calls/<id>/events). No key, no tools here.
"use strict";

const $ = (id) => document.getElementById(id);
const CODECS = { opus: "audio/opus", pcmu: "audio/pcmu", pcma: "audio/pcma" };
const LOG_LIMIT = 1500;
const ICE_GATHER_MS = 2000;

const call = {
  pc: null, channel: null, mic: null, feed: null, recorder: null, id: null,
  live: false, muted: false, talking: false, started: 0, turnDetection: null, responding: false, audible: false,
  bubbles: new Map(), tools: new Map(), lastUser: null,
};

// -- status and problems -----------------------------------------------------
function setStatus(text, state) {
  const status = $("status");
  status.textContent = text;
  status.dataset.state = state;
}

function showProblem(message) {
  const problem = $("problem");
  problem.textContent = message;
  problem.hidden = !message;
}

// -- connecting ----------------------------------------------------------------
async function connect() {
  showProblem("");
  $("connect").disabled = true;
  setStatus("Connecting…", "connecting");
  call.started = performance.now();
  try {
    await dial();
  } catch (failure) {
    logEntry("page", "connect failed", { error: String(failure.message || failure) }, true);
    showProblem(`Could not connect: ${failure.message || failure}`);
    teardown("failed");
  }
}

async function dial() {
  call.mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
  const track = call.mic.getAudioTracks()[0];
  const pc = (call.pc = new RTCPeerConnection());
  pc.addEventListener("track", (event) => onAgentTrack(event.streams[0] || new MediaStream([event.track])));
  pc.addEventListener("connectionstatechange", onConnectionState);
  const transceiver = pc.addTransceiver(track, { direction: "sendrecv", streams: [call.mic] });
  preferCodec(transceiver, $("codec").value);
  call.channel = pc.createDataChannel("oai-events");
  call.channel.addEventListener("message", onChannelMessage);
  call.channel.addEventListener("open", () => { if ($("ptt").checked) sendPushToTalkMode(); });
  call.recorder = new Recorder();
  await call.recorder.start(call.mic);
  await pc.setLocalDescription(await pc.createOffer());
  await iceGathered(pc);
  const answer = await fetch("/calls" + location.search, { method: "POST", headers: { "Content-Type": "application/sdp" }, body: pc.localDescription.sdp });
  if (!answer.ok) {
    const body = await answer.json().catch(() => ({}));
    throw new Error(body.error || `the server answered ${answer.status}`);
  }
  call.id = (answer.headers.get("Location") || "").split("/").pop();
  const sdp = await answer.text();
  if (!call.pc) return; // disconnected meanwhile
  await pc.setRemoteDescription({ type: "answer", sdp });
  listen(call.id);
  call.live = true;
  $("connect").textContent = "Disconnect";
  $("connect").disabled = false;
  $("mute").disabled = false;
  applyTalkMode(false);
}

function preferCodec(transceiver, choice) {
  if (!transceiver.setCodecPreferences || !window.RTCRtpReceiver) return;
  const wanted = CODECS[choice] || CODECS.opus;
  const codecs = RTCRtpReceiver.getCapabilities("audio").codecs.filter((codec) => codec.mimeType.toLowerCase() === wanted);
  if (codecs.length) transceiver.setCodecPreferences(codecs);
}

function iceGathered(pc) {
  // The answerer gets no trickled candidates: wait until ours are in the offer (bounded).
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") { pc.removeEventListener("icegatheringstatechange", done); resolve(); } };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, ICE_GATHER_MS);
  });
}

function onAgentTrack(stream) {
  $("agent-audio").srcObject = stream;
  if (call.recorder) call.recorder.addAgent(stream);
}

async function onConnectionState() {
  const pc = call.pc;
  if (!pc) return;
  if (pc.connectionState === "connected") {
    const ms = Math.round(performance.now() - call.started);
    setStatus(`Connected (${ms} ms)`, "connected");
    document.body.dataset.connectedMs = String(ms); // from the click (bench/bench_webrtc.py reads both)
    document.body.dataset.connectedAt = String(Math.round(performance.now())); // from navigation start
    $("codec-used").textContent = `codec: ${await negotiatedCodec(pc)}`;
    $("download").disabled = false;
  } else if (pc.connectionState === "failed") {
    showProblem("The media connection failed.");
    hangup("failed");
  }
}

async function negotiatedCodec(pc) {
  const stats = await pc.getStats();
  for (const report of stats.values()) {
    if (report.type === "codec" && report.mimeType && report.mimeType.startsWith("audio/")) return report.mimeType.slice(6);
  }
  return "?";
}

// -- ending ----------------------------------------------------------------------
async function hangup(state = "ended") {
  const id = call.id;
  teardown(state);
  if (id) {
    try {
      await fetch(`/calls/${id}/hangup`, { method: "POST" });
    } catch (failure) {
      logEntry("page", "hangup failed", { error: String(failure) }, true);
    }
  }
}

function teardown(state) {
  if (call.feed) call.feed.close();
  if (call.pc) call.pc.close();
  if (call.mic) call.mic.getTracks().forEach((track) => track.stop());
  if (call.recorder) call.recorder.stop();
  Object.assign(call, { pc: null, channel: null, mic: null, feed: null, live: false, talking: false, pushToTalkSent: false, responding: false, audible: false });
  $("connect").textContent = "Connect";
  $("connect").disabled = false;
  $("mute").disabled = true;
  $("talk").disabled = true;
  $("download").disabled = !(call.recorder && call.recorder.frames);
  if (state !== "connecting") setStatus(state === "failed" ? "Failed" : "Call ended", state);
}

// -- the server's feed -------------------------------------------------------------
function listen(id) {
  const feed = (call.feed = new EventSource(`/calls/${id}/events`));
  feed.addEventListener("message", (message) => onEntry(JSON.parse(message.data)));
  feed.addEventListener("end", (message) => {
    const entry = JSON.parse(message.data);
    feed.close();
    note(`Call over: ${entry.reason}${entry.error ? ` (${entry.error})` : ""}`, Boolean(entry.error));
    if (call.feed === feed) teardown("ended");
  });
  feed.addEventListener("error", () => {
    if (feed.readyState === EventSource.CLOSED || call.feed !== feed) return;
    feed.close();
    logEntry("page", "event stream lost", { call_id: id }, true);
  });
}

function onEntry(entry) {
  if (entry.kind === "call") {
    setAgent(entry.agent);
    clearHint();
  } else if (entry.kind === "event") {
    const event = entry.event;
    logEntry(entry.direction, event.type, event, event.type === "error", entry.t);
    if (entry.direction === "in") followPlayback(event);
  } else if (entry.kind === "record") {
    onRecord(entry.record, entry.data);
  }
}

function onChannelMessage(message) {
  // The service's events also come on the data channel; the log shows the server's copy.
  let event;
  try { event = JSON.parse(message.data); } catch { return; }
  if (event.type !== "session.updated" && event.type !== "session.created") return;
  const detection = turnDetection(event.session);
  if (detection) {
    call.turnDetection = detection;
    call.pushToTalkSent = false;
  }
  if (detection && $("ptt").checked) sendPushToTalkMode(); // a handoff re-sent the agent's turn detection
}

function followPlayback(event) {
  // What pressing to talk must interrupt: a response in progress, audio still playing.
  if (event.type === "response.created" || event.type === "response.done") call.responding = event.type === "response.created";
  if (event.type.startsWith("output_audio_buffer.")) call.audible = event.type === "output_audio_buffer.started";
  if (event.type === "conversation.item.truncated") cutShort(event.item_id, event.audio_end_ms);
}

function turnDetection(session) {
  return session && session.audio && session.audio.input && session.audio.input.turn_detection;
}

// -- the transcript ----------------------------------------------------------------
function clearHint() {
  const hint = document.querySelector("#transcript .hint");
  if (hint) hint.remove();
}

function setAgent(name) {
  if (name) $("agent").textContent = name;
}

function addItem(className, ...children) {
  clearHint();
  const item = document.createElement("li");
  item.className = className;
  item.append(...children);
  const list = $("transcript");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(item);
  if (atBottom) list.scrollTop = list.scrollHeight;
  return item;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function bubble(role, who, text) {
  const box = element("div", "bubble");
  box.append(element("span", "who", who), element("span", "text", text), element("span", "meta"));
  return addItem(role, box);
}

function agentBubble(itemId, agent) {
  let item = itemId ? call.bubbles.get(itemId) : null;
  if (!item) {
    item = bubble("agent", agent, "");
    if (itemId) call.bubbles.set(itemId, item);
  }
  return item;
}

function note(text, isError = false) {
  addItem(isError ? "note error-note" : "note", element("span", "", text));
}

function onRecord(kind, data) {
  if (kind === "user") {
    call.lastUser = bubble("user", "You", data.text);
  } else if (kind === "assistant_delta") {
    const item = agentBubble(data.item_id, data.agent);
    item.querySelector(".text").textContent += data.delta;
  } else if (kind === "assistant") {
    const item = agentBubble(data.item_id, data.agent);
    item.querySelector(".text").textContent = data.text;
    setAgent(data.agent);
  } else if (kind === "interrupted") {
    cutShort(data.item_id, data.heard_ms, data.text);
  } else if (kind === "tool_call") {
    toolCall(data);
  } else if (kind === "tool_result") {
    toolResult(data);
  } else if (kind === "handoff") {
    const item = addItem(data.success ? "handoff" : "handoff failed", element("span", "", `${data.from} → ${data.to}${data.success ? "" : ` refused: ${data.error}`}${data.reason ? ` · ${data.reason}` : ""}`));
    item.setAttribute("role", "status");
    if (data.success) setAgent(data.to);
  } else if (kind === "guardrail") {
    guardrail(data);
  } else if (kind === "error") {
    note(`Error ${data.code}: ${data.message}`, true);
  } else if (kind === "notice") {
    note(data.message);
  } else if (kind === "latency") {
    latency(data);
  }
}

function cutShort(itemId, heardMs, heardText) {
  // Barge-in: the service (WebRTC) or the server cut the reply; say how much was heard.
  const item = call.bubbles.get(itemId);
  if (!item) return;
  item.classList.add("interrupted");
  const seconds = heardMs == null ? "" : `heard ${(heardMs / 1000).toFixed(1)} s`;
  item.querySelector(".meta").textContent = heardText ? `${seconds}: “${heardText}”` : seconds;
}

function toolCall(data) {
  const details = element("details");
  const summary = element("summary", "", `Tool ${data.name} — running…`);
  details.append(summary, element("pre", "arguments", prettyJSON(data.arguments)), element("pre", "result"));
  call.tools.set(data.call_id, addItem("tool", details));
}

function toolResult(data) {
  const item = call.tools.get(data.call_id) || (toolCall({ ...data, arguments: "" }), call.tools.get(data.call_id));
  const seconds = data.duration == null ? "" : ` in ${data.duration.toFixed(2)} s`;
  item.querySelector("summary").textContent = `Tool ${data.name} — ${data.error ? "failed" : "done"}${seconds}`;
  item.querySelector(".result").textContent = data.error ? `error: ${data.error}\n${prettyJSON(data.output || "")}` : prettyJSON(data.output || "");
  if (data.error) item.classList.add("error");
}

function guardrail(data) {
  const items = data.role === "user" ? [call.lastUser] : [...call.bubbles.values()].slice(-1);
  const target = items[0];
  const text = `Guardrail ${data.policy}${data.category ? ` (${data.category})` : ""}: ${data.action}${data.rationale ? ` — ${data.rationale}` : ""}`;
  if (target) {
    target.classList.add("tripped");
    target.querySelector(".bubble").append(element("span", "trip", text));
  } else {
    note(text, true);
  }
}

function latency(data) {
  const parts = [];
  if (data.response_delay != null) parts.push(`reply after ${data.response_delay.toFixed(2)} s`);
  if (data.first_output_delay != null) parts.push(`first output ${data.first_output_delay.toFixed(2)} s`);
  if (data.tool_seconds) parts.push(`tools ${data.tool_seconds.toFixed(2)} s`);
  if (call.lastUser && parts.length) call.lastUser.querySelector(".meta").textContent = `Turn ${data.turn}: ${parts.join(" · ")}`;
}

function prettyJSON(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return String(text); }
}

// -- the event log -------------------------------------------------------------------
function logEntry(direction, type, event, isError = false) {
  const item = element("li", `${direction}${isError ? " error" : ""}`);
  const details = element("details");
  const summary = element("summary");
  const arrow = direction === "out" ? "▲" : direction === "in" ? "▼" : "•";
  summary.append(element("span", "dir", arrow), element("time", "", clock()), document.createTextNode(type || "?"));
  details.append(summary);
  details.addEventListener("toggle", () => {
    if (details.open && details.childElementCount === 1) details.append(element("pre", "", JSON.stringify(event, null, 2)));
  });
  item.append(details);
  const log = $("log");
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.append(item);
  while (log.childElementCount > LOG_LIMIT) log.firstElementChild.remove();
  if (atBottom) log.scrollTop = log.scrollHeight;
}

function clock() {
  const now = new Date();
  return `${now.toTimeString().slice(0, 8)}.${String(now.getMilliseconds()).padStart(3, "0")}`;
}

// -- talking: mute and push to talk ------------------------------------------------------
function sendOnChannel(event) {
  if (!call.channel || call.channel.readyState !== "open") return false;
  call.channel.send(JSON.stringify(event));
  logEntry("out", `${event.type} (page)`, event);
  return true;
}

function sendPushToTalkMode() {
  if (!call.pushToTalkSent) call.pushToTalkSent = sendOnChannel({ type: "session.update", session: { type: "realtime", audio: { input: { turn_detection: null } } } });
}

function micOn() {
  const open = !call.muted && (!$("ptt").checked || call.talking);
  if (call.mic) call.mic.getAudioTracks().forEach((track) => (track.enabled = open));
}

function applyTalkMode(changed = true) {
  const ptt = $("ptt").checked;
  $("talk").disabled = !ptt || !call.live;
  if (call.live && ptt) {
    sendPushToTalkMode();
  } else if (call.live && changed && call.turnDetection) {
    call.pushToTalkSent = false; // back to the agent's own turn detection
    sendOnChannel({ type: "session.update", session: { type: "realtime", audio: { input: { turn_detection: call.turnDetection } } } });
  }
  micOn();
}

function toggleMute() {
  call.muted = !call.muted;
  $("mute").setAttribute("aria-pressed", String(call.muted));
  $("mute").textContent = call.muted ? "Unmute" : "Mute";
  micOn();
}

function startTalking() {
  if (!call.live || !$("ptt").checked || call.talking) return;
  call.talking = true;
  $("talk").setAttribute("aria-pressed", "true");
  if (call.responding) sendOnChannel({ type: "response.cancel" }); // pressing to talk interrupts the agent
  if (call.audible) sendOnChannel({ type: "output_audio_buffer.clear" });
  sendOnChannel({ type: "input_audio_buffer.clear" });
  micOn();
}

function stopTalking() {
  if (!call.talking) return;
  call.talking = false;
  $("talk").setAttribute("aria-pressed", "false");
  micOn();
  sendOnChannel({ type: "input_audio_buffer.commit" });
  sendOnChannel({ type: "response.create" });
}

// -- the recording: both sides, in the page, as a stereo WAV (you left, the agent right) ---
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

function download() {
  if (!call.recorder || !call.recorder.frames) return;
  const link = element("a");
  link.href = URL.createObjectURL(call.recorder.wav());
  link.download = `call-${call.id || "recording"}.wav`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

// -- wiring ----------------------------------------------------------------------------
function isTalkKey(event) {
  return (event.key === " " || event.key === "Enter") && !event.repeat;
}

document.addEventListener("DOMContentLoaded", () => {
  $("connect").addEventListener("click", () => (call.live || call.pc ? hangup() : connect()));
  $("mute").addEventListener("click", toggleMute);
  $("ptt").addEventListener("change", () => applyTalkMode(true));
  $("download").addEventListener("click", download);
  const talk = $("talk");
  talk.addEventListener("pointerdown", startTalking);
  talk.addEventListener("pointerup", stopTalking);
  talk.addEventListener("pointerleave", stopTalking);
  talk.addEventListener("keydown", (event) => { if (isTalkKey(event)) { event.preventDefault(); startTalking(); } });
  talk.addEventListener("keyup", (event) => { if (event.key === " " || event.key === "Enter") { event.preventDefault(); stopTalking(); } });
  talk.addEventListener("blur", stopTalking);
  window.addEventListener("pagehide", () => { if (call.id && call.live) navigator.sendBeacon(`/calls/${call.id}/hangup`); });
});
