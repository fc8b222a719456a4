// voiceagent dashboard charts: small hand-written SVG bar and line charts
// (no library). Elements are built with createElementNS and presentation
// attributes only (no style attributes), so the strict CSP holds; colours
// come from style.css by class.
"use strict";
window.vaCharts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const W = 600, H = 170, L = 48, R = 24, T = 10, B = 24;

  function node(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const k of Object.keys(attrs)) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // niceMax rounds v up to 1, 2 or 5 times a power of ten.
  function niceMax(v) {
    if (!(v > 1)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function label(v) { return v >= 1000 ? (v / 1000) + "k" : String(Math.round(v * 10) / 10); }

  function hhmm(ms) {
    const d = new Date(ms);
    return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }

  // draw renders opts into svg: opts.buckets time buckets of opts.stepMs
  // from opts.start; opts.bars (numbers, optional) as bars; opts.lines
  // ({cls, name, values: number|null per bucket}) as lines, broken where a
  // value is null.
  function draw(svg, opts) {
    svg.replaceChildren();
    const n = opts.buckets;
    let max = 0;
    (opts.bars || []).forEach((v) => { max = Math.max(max, v); });
    opts.lines.forEach((l) => l.values.forEach((v) => { if (v !== null) max = Math.max(max, v); }));
    max = niceMax(max);
    const pw = W - L - R, ph = H - T - B;
    const x = (i) => L + (i + 0.5) * pw / n;
    const y = (v) => T + ph - (v / max) * ph;
    [0, max / 2, max].forEach((v) => {
      svg.append(node("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
      svg.append(node("text", { x: L - 5, y: y(v) + 4, class: "axis", "text-anchor": "end" }, label(v)));
    });
    for (let i = 0; i <= n; i += 15) {
      svg.append(node("text", { x: L + i * pw / n, y: H - 6, class: "axis", "text-anchor": "middle" }, hhmm(opts.start + i * opts.stepMs)));
    }
    if (opts.bars) {
      const bw = Math.max(1, pw / n - 2);
      opts.bars.forEach((v, i) => {
        if (!v) return;
        const r = node("rect", { x: x(i) - bw / 2, y: y(v), width: bw, height: T + ph - y(v), class: "bar" });
        r.append(node("title", {}, hhmm(opts.start + i * opts.stepMs) + ": " + v));
        svg.append(r);
      });
    }
    opts.lines.forEach((l) => {
      let pts = [];
      const flush = () => {
        if (pts.length === 1) {
          const [cx, cy] = pts[0].split(",");
          svg.append(node("circle", { cx, cy, r: 2.5, class: l.cls + " dot" }));
        } else if (pts.length > 1) {
          svg.append(node("polyline", { points: pts.join(" "), class: l.cls }));
        }
        pts = [];
      };
      l.values.forEach((v, i) => { if (v === null) flush(); else pts.push(x(i).toFixed(1) + "," + y(v).toFixed(1)); });
      flush();
    });
  }

  return { draw, niceMax };
})();
