// The runner web client: WebRTC to the service through this server (POST /calls), the
// call drawn from the server's feed (GET /calls/<id>/events) by view.js; recorder.js keeps
// the recording. No key and no tools here: they stay on the server.
"use strict";

const $ = (id) => document.getElementById(id);
const CODECS = { opus: "audio/opus", pcmu: "audio/pcmu", pcma: "audio/pcma" };
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

// -- talking: mute and push to talk ------------------------------------------------------
// On GPT-Live (body data-target="live") the model owns the turns and takes no Realtime event:
// push to talk is hidden, and the page sends nothing on the data channel (the server's
// sideband drives the call); mute only silences the microphone track, on either target.
const onLive = () => document.body.dataset.target === "live";

function sendOnChannel(event) {
  if (onLive() || !call.channel || call.channel.readyState !== "open") return false;
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
  if (onLive()) {
    $("ptt").checked = false;
    $("ptt").closest("label").hidden = true;
    $("talk").hidden = true;
  }
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
