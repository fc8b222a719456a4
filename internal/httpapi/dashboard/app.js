// voiceagent dashboard: live calls from the /logs WebSocket, recent calls
// from GET /api/calls, one call's details from GET /api/calls/{callSid},
// charts of the last hour (charts.js) and an alert panel fed by the
// security.alert and webhook.failed live events. The token lives in a
// variable of this closure only: never in web storage, a cookie or the
// URL. Every value from the server is inserted with textContent, never as
// HTML.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const MAX_LINES = 200;
  let token = null;
  let ws = null;
  let retryMs = 1000;
  let retryTimer = null;
  let olderCursor = "";
  let overviewTimer = null;
  let overviewSoon = null;
  let detailSid = "";
  const MAX_ALERTS = 50;
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
    if (overviewTimer) clearInterval(overviewTimer);
    overviewTimer = null;
    $("recent-body").replaceChildren();
    $("alerts").replaceChildren();
    closeDetail();
    $("login").hidden = false;
    $("live").hidden = true;
    $("recent").hidden = true;
    $("overview").hidden = true;
    $("logout").hidden = true;
    $("login-error").textContent = message || "";
    setStatus("not connected", "idle");
    $("token").focus();
  }

  async function api(path) {
    const res = await fetch(path, { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
    if (res.status === 401) { forget("The token was refused."); return null; }
    if (!res.ok) { const e = new Error("HTTP " + res.status); e.status = res.status; throw e; }
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

  // decisionText is the policy's decision with the rule that made it
  // ("busy (capacity)"), so refused and busy calls show why.
  function decisionText(decision, rule) { return rule ? decision + " (" + rule + ")" : decision; }

  function recentRow(c) {
    const tr = el("tr");
    tr.dataset.callSid = c.callSid;
    tr.dataset.decision = c.decision || "";
    [fmtTime(c.createdAt), c.from, c.direction, c.agentId, c.status, decisionText(c.decision, c.reason), c.endReason, fmtDur(c.durationSec)]
      .forEach((v) => tr.append(el("td", "", v || "")));
    const td = el("td");
    const open = el("button", "open", "Details");
    open.type = "button";
    open.addEventListener("click", () => openDetail(c.callSid));
    td.append(open);
    tr.append(td);
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
    if (msg.type === "security.alert" || msg.type.startsWith("webhook.")) { addAlert(msg); return; }
    if (!msg.callSid || msg.type.startsWith("viewer.")) return;
    const d = msg.data || {};
    if (msg.type === "call.received" || msg.type === "call.ended") refreshOverviewSoon();
    if (msg.type === "call.ended") { endCall(msg.callSid); if (msg.callSid === detailSid) openDetail(detailSid); return; }
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

  // ---- one call's details -------------------------------------------------

  // fact adds one name/value pair; field names it for tests and styling.
  function fact(dl, name, value, field) {
    const dd = el("dd", "", value === undefined || value === null || value === "" ? "—" : String(value));
    if (field) dd.dataset.field = field;
    dl.append(el("dt", "", name), dd);
  }

  function fmtMs(v) { return v === null || v === undefined ? null : v + " ms"; }

  function renderDetail(d) {
    $("detail-sid").textContent = d.callSid;
    const dl = $("detail-facts");
    dl.replaceChildren();
    fact(dl, "Agent", d.agentId, "agentId");
    fact(dl, "Direction", d.direction);
    fact(dl, "From", d.from);
    fact(dl, "To", d.to);
    fact(dl, "Status", d.status);
    fact(dl, "Decision", decisionText(d.decision.result, d.decision.rule));
    fact(dl, "End reason", d.endReason, "endReason");
    fact(dl, "Received", fmtTime(d.receivedAt));
    fact(dl, "Answered", fmtTime(d.answeredAt));
    fact(dl, "Ended", fmtTime(d.endedAt));
    fact(dl, "Duration", fmtDur(d.durationSeconds));
    fact(dl, "First audio", fmtMs(d.latency.firstAudioMs));
    fact(dl, "Answer latency p50", fmtMs(d.latency.responseP50Ms));
    fact(dl, "Answer latency max", fmtMs(d.latency.responseMaxMs));
    fact(dl, "Tokens in / out", d.usage.inputTokens + " / " + d.usage.outputTokens);

    const lines = $("detail-transcript");
    lines.replaceChildren();
    d.transcript.forEach((l) => {
      const li = el("li");
      li.dataset.role = l.speaker === "agent" ? "agent" : "caller";
      li.append(el("span", "role", li.dataset.role), el("span", "text", l.text));
      lines.append(li);
    });
    $("detail-no-transcript").hidden = d.transcript.length > 0;

    const tools = $("detail-tools");
    tools.replaceChildren();
    d.tools.forEach((t) => {
      const tr = el("tr");
      tr.dataset.outcome = t.outcome === "ok" || t.outcome === "refused" ? t.outcome : "error";
      [t.name, t.outcome, t.durationMs + " ms", fmtTime(t.at)].forEach((v) => tr.append(el("td", "", v)));
      tools.append(tr);
    });
    $("detail-no-tools").hidden = d.tools.length > 0;
  }

  async function openDetail(sid) {
    detailSid = sid;
    $("detail").hidden = false;
    $("detail-error").textContent = "";
    try {
      const d = await api("/api/calls/" + encodeURIComponent(sid));
      if (!d || sid !== detailSid) return;
      renderDetail(d);
      $("detail").dataset.callSid = sid;
      $("detail").scrollIntoView({ block: "nearest" });
    } catch (err) {
      $("detail-error").textContent = "The call's details could not be read: " + err.message;
    }
  }

  function closeDetail() {
    detailSid = "";
    $("detail").hidden = true;
    delete $("detail").dataset.callSid;
  }

  // ---- overview: the last hour's calls, live calls and latency -----------

  const HOUR = 3600 * 1000, MINUTE = 60 * 1000;

  async function hourOfCalls(since) {
    let calls = [], cursor = "";
    for (let page = 0; page < 10; page++) {
      const q = "/api/calls?limit=200&since=" + encodeURIComponent(new Date(since).toISOString()) + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
      const p = await api(q);
      if (!p) return null;
      calls = calls.concat(p.calls);
      cursor = p.nextCursor || "";
      if (!cursor) break;
    }
    return calls;
  }

  function median(xs) {
    if (!xs.length) return null;
    xs.sort((a, b) => a - b);
    return xs[Math.floor((xs.length - 1) / 2)];
  }

  async function loadOverview() {
    const now = Date.now();
    const start = Math.floor((now - HOUR) / MINUTE) * MINUTE + MINUTE;
    const calls = await hourOfCalls(start);
    if (!calls) return;
    const n = 60;
    const perMinute = new Array(n).fill(0), liveAt = new Array(n).fill(0);
    const first = Array.from({ length: n }, () => []), answer = Array.from({ length: n }, () => []);
    const bucket = (ms) => Math.floor((ms - start) / MINUTE);
    calls.forEach((c) => {
      const created = Date.parse(c.createdAt);
      const b = bucket(created);
      if (b >= 0 && b < n) perMinute[b]++;
      if (c.decision === "accept") {
        const from = Date.parse(c.answeredAt || c.createdAt), to = c.endedAt ? Date.parse(c.endedAt) : now;
        for (let i = Math.max(0, bucket(from)); i < n && i <= bucket(to); i++) liveAt[i]++;
      }
      const e = c.endedAt ? bucket(Date.parse(c.endedAt)) : -1;
      if (e >= 0 && e < n) {
        if (typeof c.firstAudioMs === "number") first[e].push(c.firstAudioMs);
        if (typeof c.responseP50Ms === "number") answer[e].push(c.responseP50Ms);
      }
    });
    const svgCalls = $("chart-calls"), svgLat = $("chart-latency");
    window.vaCharts.draw(svgCalls, { buckets: n, stepMs: MINUTE, start, bars: perMinute, lines: [{ cls: "line", values: liveAt }] });
    window.vaCharts.draw(svgLat, { buckets: n, stepMs: MINUTE, start, lines: [{ cls: "line2", values: first.map(median) }, { cls: "line", values: answer.map(median) }] });
    svgCalls.dataset.calls = String(perMinute.reduce((a, b) => a + b, 0));
    svgLat.dataset.samples = String(first.reduce((a, b) => a + b.length, 0) + answer.reduce((a, b) => a + b.length, 0));
  }

  function refreshOverviewSoon() {
    if (overviewSoon) return;
    overviewSoon = setTimeout(() => { overviewSoon = null; loadOverview().catch(() => {}); }, 1500);
  }

  // ---- alerts: security alerts and failing webhooks -----------------------

  // addAlert shows one security.alert or webhook.* event. Webhook events
  // (webhook.failed, webhook.disabled) carry data such as webhookId,
  // deliveryId, event, attempts, status and error; whatever keys they
  // hold are listed.
  function addAlert(msg) {
    const d = msg.data || {};
    const li = el("li");
    li.dataset.type = msg.type;
    const what = msg.type === "security.alert" ? "Security alert: " + String(d.pattern || d.alert || "alert") : msg.type;
    const details = Object.keys(d).filter((k) => k !== "pattern" && k !== "alert").sort()
      .map((k) => k + "=" + (typeof d[k] === "object" ? JSON.stringify(d[k]) : String(d[k]))).join(" ");
    li.append(el("span", "alert-time", fmtTime(msg.time)), el("span", "alert-what", what), el("span", "alert-detail", details));
    $("alerts").prepend(li);
    while ($("alerts").children.length > MAX_ALERTS) $("alerts").lastChild.remove();
    $("no-alerts").hidden = true;
  }

  // loadAlertHistory lists the last day's security alerts when the token
  // may read the audit log (asked first, so a calls:read token never sees
  // a 403); otherwise live alerts still show.
  async function loadAlertHistory() {
    try {
      const me = await api("/api/whoami");
      if (!me) return;
      const scopes = me.scopes || [];
      if (!scopes.includes("audit:read") && !scopes.includes("admin")) {
        $("alerts-note").textContent = "Alert history needs a token with audit:read; new alerts show here as they happen.";
        return;
      }
      const since = new Date(Date.now() - 24 * HOUR).toISOString();
      const page = await api("/api/audit?type=security_alert&limit=20&since=" + encodeURIComponent(since));
      if (!page) return;
      page.events.slice().reverse().forEach((e) => addAlert({ type: "security.alert", time: e.time, data: Object.assign({}, e.detail, e.remoteIp ? { remoteIp: e.remoteIp } : {}) }));
      $("alerts-note").textContent = "";
    } catch (err) {
      $("alerts-note").textContent = "Alert history could not be read.";
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
    $("overview").hidden = false;
    $("live").hidden = false;
    $("recent").hidden = false;
    $("logout").hidden = false;
    connect();
    loadOverview().catch(() => {});
    loadAlertHistory();
    overviewTimer = setInterval(() => loadOverview().catch(() => {}), 30000);
  });
  $("more").addEventListener("click", () => loadRecent(true).catch(() => {}));
  $("detail-close").addEventListener("click", closeDetail);
  $("logout").addEventListener("click", () => forget(""));
  setInterval(tick, 1000);
})();
