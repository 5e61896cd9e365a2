// 2. Draw a digit: a canvas for mouse, pen and touch; predictions while drawing.
import { api, drawGray, unpack, outputBars } from "./util.js";

let store, canvas, ctx;
let drawing = false, last = null, dirty = false;
let inFlight = false, pending = false;
const $ = (id) => document.getElementById(id);

export function init(s) {
  store = s;
  canvas = $("draw-canvas");
  ctx = canvas.getContext("2d");
  clear();
  canvas.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    drawing = true;
    last = point(e);
    stroke(last, last);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    e.preventDefault();
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ce of events.length ? events : [e]) {
      const p = point(ce);
      stroke(last, p);
      last = p;
    }
  });
  const end = () => { if (drawing) { drawing = false; last = null; request(); } };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  $("d-clear").addEventListener("click", clear);
  store.on("state", () => { if (dirty) request(); });
}

export function show() {}

function point(e) {
  const r = canvas.getBoundingClientRect();
  return [((e.clientX - r.left) / r.width) * canvas.width, ((e.clientY - r.top) / r.height) * canvas.height];
}

function stroke(a, b) {
  ctx.strokeStyle = "#000";
  ctx.lineWidth = canvas.width / 14;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(a[0], a[1]);
  ctx.lineTo(b[0] + 0.01, b[1]);
  ctx.stroke();
  dirty = true;
  request();
}

function clear() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  dirty = false;
  store.drawing = null;
  $("d-digit").textContent = "?";
  $("d-outputs").replaceChildren();
  drawGray($("d-prepared"), new Float32Array(28 * 28), 28, 28);
  $("d-latency").textContent = "";
  store.emit("drawing", null);
}

// One request at a time; while one is out, remember that the drawing changed.
async function request() {
  if (!dirty) return;
  if (inFlight) { pending = true; return; }
  inFlight = true; pending = false;
  const image = canvas.toDataURL("image/png");
  const t0 = performance.now();
  try {
    const r = await api("/api/predict", { image });
    const ms = performance.now() - t0;
    store.drawing = image;
    const input = unpack(r.input);
    const side = Math.round(Math.sqrt(input.length));
    drawGray($("d-prepared"), input, side, side);
    $("d-digit").textContent = String(r.digit);
    outputBars($("d-outputs"), r.outputs);
    const lat = $("d-latency");
    lat.textContent = `prediction in ${ms.toFixed(0)} ms (server ${r.ms.toFixed(1)} ms)`;
    lat.dataset.ms = ms.toFixed(2);
    lat.dataset.serverMs = r.ms.toFixed(2);
    store.emit("drawing", { image, result: r });
  } catch (e) {
    $("d-digit").textContent = "?";
    $("d-latency").textContent = e.message;
  } finally {
    inFlight = false;
    if (pending) request();
  }
}
