// Shared helpers: talking to the server, unpacking arrays, drawing pictures.

export async function api(path, body) {
  const opts = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new Error("the server cannot be reached: is nudge serve still running?");
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(data.error || `${res.status} ${res.statusText}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

// {"shape", "b64"} (float32 little-endian) -> Float32Array with .shape
export function unpack(packed) {
  const bin = atob(packed.b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const arr = new Float32Array(bytes.buffer);
  arr.shape = packed.shape;
  return arr;
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

export const fmt = {
  num: (v, d = 4) => (v == null || !isFinite(v) ? "–" : Number(v).toFixed(d)),
  sig: (v, d = 3) => (v == null || !isFinite(v) ? "–" : Number(v).toPrecision(d)),
  // nudges: every value in one format, so that columns compare at a glance (+1.45e-2, −9.14e-4)
  nudge: (v) => {
    if (v == null || !isFinite(v)) return "–";
    if (v === 0) return "0";
    const [m, e] = Math.abs(v).toExponential(2).split("e");
    return `${v > 0 ? "+" : "−"}${m}e${e.replace("+", "").replace("-", "−")}`;
  },
  // one format for every small signed number: 3 significant digits, exponent below 1e-3
  sci: (v, d = 3) => {
    if (v == null || !isFinite(v)) return "–";
    const a = Math.abs(v);
    return a === 0 ? "0" : a >= 1e-3 && a < 1e4 ? Number(v.toPrecision(d)).toString() : v.toExponential(d - 1);
  },
  pct: (v, d = 2) => (v == null ? "–" : (100 * v).toFixed(d) + "%"),
  int: (v) => (v == null ? "–" : Math.round(v).toLocaleString("en-US")),
  // an axis's count, short: 750, 7.5k, 1.5M
  short: (v) => (v >= 1e6 ? `${Number((v / 1e6).toPrecision(3))}M` : v >= 1000 ? `${Number((v / 1000).toPrecision(3))}k` : String(Math.round(v))),
  // "1 step", "3 steps": a count and its noun
  counted: (n, one, many = `${one}s`) => `${fmt.int(n)} ${n === 1 ? one : many}`,
  // a model's recorded accuracy: "96.36% on test", or "83.55% on 2,000 test images" when it
  // was tested on fewer than all of the page's dataset's (ds), so that it is not read as
  // the figure the page finds on all of them
  accuracy: (m, ds) => m.test_accuracy == null ? null : `${fmt.pct(m.test_accuracy)} on ${
    m.n_test && !(ds && m.dataset === ds.name && m.n_test >= ds.n_test)
      ? fmt.counted(m.n_test, "test image") : "test"}`,
};

// Gray picture: 0 = black, 1 = white (ink is bright, as MNIST stores it).
export function drawGray(canvas, data, w, h) {
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const v = Math.max(0, Math.min(255, Math.round(255 * data[i])));
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

// Diverging colours: blue positive, red negative, white zero; scale = the value shown full.
export function divergingRGB(t) {
  t = Math.max(-1, Math.min(1, t));
  if (t >= 0) return [255 - 208 * t, 255 - 144 * t, 255 - 32 * t];
  t = -t;
  return [255 - 41 * t, 255 - 186 * t, 255 - 194 * t];
}

// gamma < 1 brightens small values (used where a few large values would hide the rest).
export function drawDiverging(canvas, data, w, h, scale, offset = 0, gamma = 1) {
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  const s = scale > 0 ? scale : 1;
  for (let i = 0; i < w * h; i++) {
    const t = data[offset + i] / s;
    const [r, g, b] = divergingRGB(gamma === 1 ? t : Math.sign(t) * Math.abs(t) ** gamma);
    img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

// Heat map of non-negative values: black -> orange -> yellow-white.
export function drawHeat(canvas, data, w, h, scale, offset = 0) {
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  const s = scale > 0 ? scale : 1;
  for (let i = 0; i < w * h; i++) {
    const t = Math.sqrt(Math.max(0, Math.min(1, data[offset + i] / s)));
    img.data[4 * i] = 255 * Math.min(1, 1.6 * t);
    img.data[4 * i + 1] = 255 * Math.max(0, Math.min(1, 1.6 * t - 0.45));
    img.data[4 * i + 2] = 255 * Math.max(0, 2.2 * t - 1.2);
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

export function maxAbs(data, from = 0, to = data.length) {
  let m = 0;
  for (let i = from; i < to; i++) m = Math.max(m, Math.abs(data[i]));
  return m;
}

// Ten output bars, the largest highlighted (a list a screen reader can read).
export function outputBars(container, values, labels) {
  container.replaceChildren();
  let best = 0;
  values.forEach((v, i) => { if (v > values[best]) best = i; });
  values.forEach((v, i) => {
    const fill = el("div", { class: "bar-fill" });
    fill.style.width = `${Math.max(0, Math.min(1, v)) * 100}%`;
    const name = labels ? labels[i] : String(i);
    container.append(el("div", { class: "bar-row" + (i === best ? " best" : ""), role: "listitem",
      "aria-label": `${name}: ${v.toFixed(3)}${i === best ? ", the largest" : ""}` },
      el("span", { text: name, "aria-hidden": "true" }),
      el("div", { class: "bar-track", "aria-hidden": "true" }, fill),
      el("span", { text: v.toFixed(3), "aria-hidden": "true" })));
  });
}

// A centred bar for a signed value (wished-for nudges): right = up (blue), left = down (red).
export function wishBar(value, scale) {
  const track = el("div", { class: "wish-track" }, el("div", { class: "wish-mid" }));
  const bar = el("div", { class: "wish-bar " + (value >= 0 ? "up" : "down") });
  const frac = scale > 0 ? Math.min(1, Math.abs(value) / scale) / 2 : 0;
  bar.style.width = `${frac * 100}%`;
  bar.style.left = value >= 0 ? "50%" : `${50 - frac * 100}%`;
  track.append(bar);
  return el("div", { class: "wish" }, track);
}

// Whether the model in use trains now (the stream's updates leave the model out while it
// is unchanged: the store keeps the last one).
export const trains = (state) => !!(state && state.model && state.model.training);

// The model in use, as a key that changes with it: another model, a hand step or its undo
// (the version), a run's start and end (training).
export const modelKey = (m) => (m ? `${m.version}-${m.training}` : null);

// What a result was computed for: the model in use (`model`: else the store's) and its server.
export const computedFor = (state, model = state && state.model) => (model ? { model, server: state.server } : null);

// What changed in the model in use (the store's `state`) since `was` (computedFor, when a
// result was computed), in a few words; null if nothing did, or if the model in the state
// is older news than `was` (the stream's).  A restarted server numbers its versions afresh.
export function modelChange(was, state) {
  if (!was) return null;
  if (state && state.server !== was.server) return "the server has restarted since";
  const now = state && state.model;
  if (!now) return "no model is in use now";
  was = was.model;
  if (modelKey(was) === modelKey(now) || now.version < was.version) return null;
  if (was.source !== now.source || was.label !== now.label || was.sizes.join() !== now.sizes.join()) {
    return `another model is in use now (${now.sizes.join("-")} · ${now.label})`;
  }
  if (now.training) return "a run is training it now";
  if (was.training) return "the run has gone on since";
  const steps = (m) => (m.modified ? m.modified.steps : 0);
  const more = steps(now) - steps(was);
  if (more > 0) return `${fmt.counted(more, "hand step")} taken since`;
  if (more < 0) return "hand steps undone since";
  return "it has changed since";
}

// Answers may come out of order (a later question's first): only the latest question's is
// shown.  `const ask = latestOnly()` once per view (or panel); then for each question
// `const current = ask()`, and after each answer `if (!current()) return;`.
export function latestOnly() {
  let asks = 0;
  return () => { const asked = ++asks; return () => asked === asks; };
}

// A result the user asked for stays when the model changes, marked in `box` (a live region
// above it): what changed, and a button that computes it again.  With no change the mark
// goes, and a keyboard focus on its button moves to `fallback`.
export function staleNote(box, change, again, fallback) {
  if ((box.dataset.change || "") === (change || "")) return;
  if (!change) {
    if (box.contains(document.activeElement)) fallback.focus();
    delete box.dataset.change;
    box.replaceChildren();
    return;
  }
  const focused = box.contains(document.activeElement);
  const button = el("button", { type: "button", text: "Compute again", onclick: again });
  box.dataset.change = change;
  box.replaceChildren(el("b", { text: "Out of date: " }), `computed for an earlier model; ${change}. `, button);
  if (focused) button.focus();
}

// On a narrow screen a result stands below what it answers (`from`), maybe out of sight.
export const below = (target, from) => target.getBoundingClientRect().top >= from.getBoundingClientRect().bottom - 1;

// The user's own scrolling (wheel, finger, keys), counted: a result brought into view must
// not undo it.  (Not window.scrollY: the page moves by itself as content above changes.)
let userScrolls = 0;
const SCROLL_KEYS = ["PageUp", "PageDown", "Home", "End", "ArrowUp", "ArrowDown", " "];
const count = () => { userScrolls++; };
window.addEventListener("wheel", count, { passive: true });
window.addEventListener("touchmove", count, { passive: true });
window.addEventListener("keydown", (e) => {
  if (SCROLL_KEYS.includes(e.key) && !e.target.closest?.("input, select, textarea, button, [role=button]")) count();
});
export const scrolls = () => userScrolls;

// Bring it into view (smoothly, unless the user asks for reduced motion), unless the user
// has scrolled since asking (scrolls() was `at`) or it is in view already.
export function bringIntoView(target, at = userScrolls, block = "start") {
  const r = target.getBoundingClientRect();
  if (userScrolls !== at || (r.top >= 0 && r.bottom <= window.innerHeight)) return;
  const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  target.scrollIntoView({ behavior: still ? "auto" : "smooth", block });
}

let toastTimer = null;
export function toast(message) {
  const t = document.getElementById("toast");
  t.textContent = message;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 6000);
}

// Say something to screen-reader users through a polite live region, at most once per
// `gap` ms per region (the latest text wins): live updates must not flood them.
const announceState = new Map();
export function announce(id, text, gap = 1500) {
  const region = document.getElementById(id);
  if (!region) return;
  const st = announceState.get(id) || { last: 0, timer: null, text: "" };
  announceState.set(id, st);
  st.text = text;
  const wait = st.last + gap - performance.now();
  if (st.timer) return;
  st.timer = setTimeout(() => {
    st.timer = null; st.last = performance.now();
    if (region.textContent !== st.text) region.textContent = st.text;
  }, Math.max(0, wait));
}

// Ticks for a log axis from 10^a to 10^b: round values (1-3, 1-2-5, then finer), at most
// about 8 of them; where fewer than 3 of those fall in the range (a narrow one, 0.78 to 1),
// a linear axis's round values (0.8, 0.85, ...), so that every label is where it stands.
function logTicks(a, b) {
  const out = [];
  for (const mult of [[1], [1, 3], [1, 2, 5], [1, 1.5, 2, 3, 5, 7]]) {
    const t = [];
    for (let e = Math.floor(a); e <= Math.ceil(b); e++) for (const m of mult) {
      const v = Math.log10(m) + e;
      if (v >= a - 1e-9 && v <= b + 1e-9) t.push(v);
    }
    if (t.length >= 3) { out.push(...t); break; }
  }
  if (out.length < 3) {
    out.length = 0;
    const lo = 10 ** a, hi = 10 ** b, step = niceStep(hi - lo, 4);
    for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi * (1 + 1e-9); k++) out.push(Math.log10(k * step));
  }
  return out.length > 8 ? out.filter((_, i) => i % Math.ceil(out.length / 8) === 0) : out;
}

// A round step of at least span / n: 1, 2, 2.5 or 5 times a power of ten (whole numbers
// only, if asked), so that every tick's label is exactly the value where it stands.
export function niceStep(span, n, whole = false) {
  const raw = span / n, p = 10 ** Math.floor(Math.log10(raw));
  const step = (whole ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10]).map((m) => m * p).find((v) => v >= raw * (1 - 1e-9));
  return whole ? Math.max(1, Math.round(step)) : step;
}

// The accuracy axis zoomed in on the values (a margin of half a step: 0.5, 2 or 10 points
// as they spread), from and to a multiple of a round tick spacing, in at most 5 parts, whose
// labels with `digits` decimals are exact.
export function zoomedAxis(values) {
  const lo = Math.min(...values), hi = Math.max(...values);
  const step = hi - lo > 0.2 ? 0.1 : hi - lo > 0.05 ? 0.02 : 0.005;
  const from = Math.max(0, lo - step / 2), to = Math.min(1, hi + step / 2);
  for (const d of [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.25]) {
    const n0 = Math.floor(from / d + 1e-9), n1 = Math.ceil(to / d - 1e-9);
    if (d >= step && n1 - n0 <= 5) return { ymin: n0 * d, ymax: n1 * d, ysteps: n1 - n0, digits: d < 0.01 ? 1 : 0 };
  }
  return { ymin: 0, ymax: 1, ysteps: 4, digits: 0 };
}

// Line chart on a canvas.  series: [{points: [[x, y]...], color, dots, line}];
// opts: xmin, xmax, ymin, ymax, ysteps (parts of a linear y axis), log (log y axis), xlog
// (log x axis), xfmt, yfmt, xlabel (under the ticks), integerX, empty.  The ticks drawn, as [value, label], are
// left in the canvas's data-xticks and data-yticks.
export function lineChart(canvas, series, opts = {}) {
  const dpr = window.devicePixelRatio || 1;
  const under = opts.xlabel ? 16 : 0;           // a line for the x axis's name
  const cssW = canvas.clientWidth || canvas.width, cssH = cssW * (opts.aspect || 0.4) + under;
  if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
    canvas.width = Math.round(cssW * dpr); canvas.height = Math.round(cssH * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const W = cssW, H = cssH, L = 52, R = 12, T = 10, B = 30 + under;
  ctx.clearRect(0, 0, W, H);
  const ty = opts.log ? (y) => Math.log10(y) : (y) => y;
  const tx = opts.xlog ? (x) => Math.log10(x) : (x) => x;
  const keep = (p) => isFinite(p[1]) && (!opts.log || p[1] > 0) && (!opts.xlog || p[0] > 0);
  series = series.map((s) => ({ ...s, points: s.points.filter(keep).map(([x, y]) => [tx(x), y]) }));
  const all = series.flatMap((s) => s.points);
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillStyle = "#5d6780";
  if (!all.length) {                            // a note in the middle of the empty chart
    const note = opts.empty || "no data yet";
    ctx.fillText(note, (W - ctx.measureText(note).width) / 2, H / 2);
    delete canvas.dataset.xticks; delete canvas.dataset.yticks;
    return;
  }
  let x0 = opts.xmin != null ? tx(opts.xmin) : Math.min(...all.map((p) => p[0]));
  let x1 = opts.xmax != null ? tx(opts.xmax) : Math.max(...all.map((p) => p[0]));
  let y0 = opts.ymin != null ? ty(opts.ymin) : Math.min(...all.map((p) => ty(p[1])));
  let y1 = opts.ymax != null ? ty(opts.ymax) : Math.max(...all.map((p) => ty(p[1])));
  if (opts.log && opts.ymin == null) { const pad = Math.max(0.05, (y1 - y0) * 0.05); y0 -= pad; y1 += pad; }
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= y0) { y1 = y0 + (Math.abs(y0) || 1) * 0.1; y0 -= (Math.abs(y0) || 1) * 0.1; }
  const px = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (v) => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);   // v already transformed
  ctx.strokeStyle = "#e3e6ee"; ctx.lineWidth = 1;
  const ysteps = opts.ysteps || 4;
  const yt = opts.log ? logTicks(y0, y1) : Array.from({ length: ysteps + 1 }, (_, i) => y0 + (i / ysteps) * (y1 - y0));
  const yticks = [], xticks = [];
  // (on a small chart, a round value too close to the one below it goes unlabelled)
  for (const v of yt.filter((v, i) => i === 0 || py(yt[i - 1]) - py(v) >= 16)) {
    ctx.beginPath(); ctx.moveTo(L, py(v)); ctx.lineTo(W - R, py(v)); ctx.stroke();
    const y = opts.log ? 10 ** v : v;
    const label = opts.yfmt ? opts.yfmt(y) : Number(y.toPrecision(3)).toString();
    ctx.fillText(label, 4, py(v) + 4);
    yticks.push([y, label]);
  }
  const step = niceStep(x1 - x0, opts.integerX ? 10 : 4, opts.integerX), xt = [];
  if (opts.xlog) xt.push(...logTicks(x0, x1));
  else for (let k = Math.ceil(x0 / step - 1e-9); k * step <= x1 * (1 + 1e-9); k++) xt.push(k * step);
  for (const v of xt) {             // (v: transformed; x: the value its label names)
    const x = opts.xlog ? 10 ** v : v, label = opts.xfmt ? opts.xfmt(x) : String(x);
    const w = ctx.measureText(label).width;
    ctx.fillText(label, Math.min(W - R - w, px(v) - (v > x0 ? w / 2 : 0)), H - under - 10);
    xticks.push([x, label]);
  }
  if (opts.xlabel) ctx.fillText(opts.xlabel, L + (W - L - R - ctx.measureText(opts.xlabel).width) / 2, H - 6);
  canvas.dataset.xticks = JSON.stringify(xticks);
  canvas.dataset.yticks = JSON.stringify(yticks);
  ctx.save();
  // (a dot's radius beyond the plot: one at an end of the axes is drawn whole)
  ctx.beginPath(); ctx.rect(L - 5, T - 5, W - L - R + 10, H - T - B + 10); ctx.clip();
  for (const s of series) {
    ctx.strokeStyle = s.color; ctx.fillStyle = s.color; ctx.lineWidth = 2;
    const pts = s.points.map(([x, y]) => [px(x), py(ty(y))]);
    if (s.dots) for (const [x, y] of pts) { ctx.beginPath(); ctx.arc(x, y, 4, 0, 7); ctx.fill(); }
    if (!s.dots || (s.line && pts.length > 1)) {
      ctx.beginPath(); pts.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y))); ctx.stroke();
    }
  }
  ctx.restore();
}
