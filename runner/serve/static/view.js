// The call as the page draws it: transcript bubbles from the records, the event log from
// the events (runner/serve/static/app.js feeds both from GET /calls/<id>/events).
"use strict";

const LOG_LIMIT = 1500; // event log entries kept on the page

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
  const said = item.querySelector(".text").textContent;
  item.querySelector(".meta").textContent = heardText && heardText !== said ? `${seconds}: “${heardText}”` : seconds;
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
