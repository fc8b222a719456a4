// voiceagent dashboard: live calls from the /logs WebSocket and recent
// calls from GET /api/calls. The token lives in a variable of this closure
// only: never in web storage, a cookie or the URL. Every value from the
// server is inserted with textContent, never as HTML.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const MAX_LINES = 200;
  let token = null;
  let ws = null;
  let retryMs = 1000;
  let retryTimer = null;
  let olderCursor = "";
  const live = new Map(); // callSid -> {el, state, from, since}
  // Calls that ended or were turned away: a late event (the relay's
  // stream.stopped after Twilio's status callback ended the call) must not
  // bring their card back. The oldest are forgotten first.
  const gone = new Set();
  const MAX_GONE = 1000;

  function setStatus(text, state) {
    $("status").textContent = text;
    $("status").dataset.state = state;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    // dir=auto isolates each text: bidi controls or right-to-left text in
    // one caller's line never reorder the rest of the line (the server
    // strips the controls too).
    if (text !== undefined) { e.textContent = text; e.dir = "auto"; }
    return e;
  }

  function forget(message) {
    token = null;
    if (retryTimer) clearTimeout(retryTimer);
    if (ws) { ws.onclose = null; ws.close(1000, "logout"); ws = null; }
    live.forEach((c) => c.el.remove());
    live.clear();
    gone.clear();
    $("recent-body").replaceChildren();
    $("login").hidden = false;
    $("live").hidden = true;
    $("recent").hidden = true;
    $("logout").hidden = true;
    $("login-error").textContent = message || "";
    setStatus("not connected", "idle");
    $("token").focus();
  }

  async function api(path) {
    const res = await fetch(path, { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
    if (res.status === 401) { forget("The token was refused."); return null; }
    if (!res.ok) throw new Error("HTTP " + res.status);
    return res.json();
  }

  // ---- recent calls -------------------------------------------------------

  function fmtTime(iso) { return iso ? new Date(iso).toLocaleString() : ""; }
  function fmtDur(sec) {
    if (sec === undefined || sec === null) return "";
    sec = Math.max(0, Math.round(sec));
    const m = Math.floor(sec / 60), s = sec % 60;
    return m + ":" + String(s).padStart(2, "0");
  }

  function recentRow(c) {
    const tr = el("tr");
    tr.dataset.callSid = c.callSid;
    [fmtTime(c.createdAt), c.from, c.status, c.decision, fmtDur(c.durationSec)].forEach((v) => tr.append(el("td", "", v || "")));
    return tr;
  }

  async function loadRecent(append) {
    const q = "/api/calls?status=ended&limit=20" + (append && olderCursor ? "&cursor=" + encodeURIComponent(olderCursor) : "");
    const page = await api(q);
    if (!page) return false;
    const body = $("recent-body");
    if (!append) body.replaceChildren();
    page.calls.forEach((c) => body.append(recentRow(c)));
    olderCursor = page.nextCursor || "";
    $("more").hidden = !olderCursor;
    $("no-recent").hidden = body.children.length > 0;
    return true;
  }

  async function loadActive() {
    const page = await api("/api/calls?status=active&limit=200");
    if (!page) return;
    page.calls.forEach((c) => {
      if (gone.has(c.callSid)) return;
      const call = upsert(c.callSid);
      if (!call.from) setFrom(call, c.from);
      if (!call.since) call.since = Date.parse(c.answeredAt || c.createdAt);
      if (call.state === "received") setState(call, c.status);
    });
  }

  // ---- live calls ---------------------------------------------------------

  function upsert(sid) {
    let call = live.get(sid);
    if (call) return call;
    const art = el("article", "call");
    art.dataset.callSid = sid;
    const head = el("div", "call-head");
    const from = el("span", "call-from", "unknown caller");
    const state = el("span", "call-state", "received");
    const dur = el("span", "call-duration", "0:00");
    head.append(from, state, dur, el("span", "call-sid", sid));
    const lines = el("ol", "transcript");
    art.append(head, lines);
    $("live-calls").prepend(art);
    call = { el: art, from: "", state: "received", since: Date.now(), parts: { from, state, dur, lines } };
    live.set(sid, call);
    $("no-live").hidden = true;
    return call;
  }

  function setFrom(call, from) { call.from = from || ""; call.parts.from.textContent = from || "unknown caller"; }
  function setState(call, state) { call.state = state; call.parts.state.textContent = state; }

  function addLine(call, role, text) {
    const li = el("li");
    li.dataset.role = role;
    li.append(el("span", "role", role), el("span", "text", text));
    call.parts.lines.append(li);
    while (call.parts.lines.children.length > MAX_LINES) call.parts.lines.firstChild.remove();
    call.parts.lines.scrollTop = call.parts.lines.scrollHeight;
  }

  // notLive removes the call's card, if any, for good.
  function notLive(sid) {
    gone.add(sid);
    if (gone.size > MAX_GONE) gone.delete(gone.values().next().value);
    const call = live.get(sid);
    if (call) { call.el.remove(); live.delete(sid); }
    $("no-live").hidden = live.size > 0;
  }

  // endCall handles call.ended, whoever sent it (the relay, or Twilio's
  // status callback for calls that never streamed or were transferred).
  function endCall(sid) {
    notLive(sid);
    loadRecent(false).catch(() => {});
  }

  function handle(msg) {
    if (msg.type === "viewer.ready") { setStatus("live", "live"); retryMs = 1000; return; }
    if (!msg.callSid || msg.type.startsWith("viewer.")) return;
    const d = msg.data || {};
    if (msg.type === "call.ended") { endCall(msg.callSid); return; }
    // A call the policy turned away (rejected, busy, hung up) is never
    // live: it shows under recent calls once Twilio reports its end.
    if (msg.type === "call.received" && d.decision !== "accept") { notLive(msg.callSid); return; }
    if (gone.has(msg.callSid)) return;
    const call = upsert(msg.callSid);
    switch (msg.type) {
      case "call.received":
        setFrom(call, d.from);
        setState(call, d.decision ? "received (" + d.decision + ")" : "received");
        break;
      case "call.accepted": setState(call, "accepted"); break;
      case "stream.started": setState(call, "in progress"); call.since = Date.parse(msg.time) || Date.now(); break;
      case "stream.stopped": setState(call, "stream stopped"); break;
      case "transcript": addLine(call, d.role === "agent" ? "agent" : "caller", String(d.text || "")); break;
      case "tool.call": addLine(call, "tool", String(d.name || "") + " " + String(d.arguments || "")); break;
      case "tool.result": addLine(call, "tool", String(d.name || "") + (d.ok ? " ok" : " failed")); break;
      case "call.transfer": setState(call, "transfer (" + String(d.kind || "") + ")"); break;
      case "error": addLine(call, "error", String(d.message || "error")); break;
    }
  }

  function connect() {
    if (!token) return;
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/logs";
    try {
      ws = new WebSocket(url, ["bearer", token]);
    } catch (e) {
      forget("This token cannot be sent by a browser: only letters, digits and !#$%&'*+-.^_`|~ are allowed.");
      return;
    }
    setStatus("connecting…", "idle");
    ws.onmessage = (e) => { try { handle(JSON.parse(e.data)); } catch (err) { /* ignore a malformed frame */ } };
    ws.onclose = (e) => {
      ws = null;
      if (!token) return;
      setStatus("disconnected (" + (e.reason || e.code) + "), retrying", "error");
      retryTimer = setTimeout(() => { loadActive().catch(() => {}); connect(); }, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    };
  }

  function tick() {
    const now = Date.now();
    live.forEach((c) => { c.parts.dur.textContent = fmtDur((now - c.since) / 1000); });
  }

  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    token = $("token").value.trim();
    $("token").value = "";
    $("login-error").textContent = "";
    if (!token) return;
    try {
      if (!(await loadRecent(false))) return;
      await loadActive();
    } catch (err) {
      forget("The server did not answer: " + err.message);
      return;
    }
    $("login").hidden = true;
    $("live").hidden = false;
    $("recent").hidden = false;
    $("logout").hidden = false;
    connect();
  });
  $("more").addEventListener("click", () => loadRecent(true).catch(() => {}));
  $("logout").addEventListener("click", () => forget(""));
  setInterval(tick, 1000);
})();
