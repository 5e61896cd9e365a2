// 2. Draw a digit: a canvas for mouse, pen and touch (or a test image, from the keyboard);
// predictions while drawing, and again while the network in use trains.
import { api, drawGray, unpack, outputBars, announce, trains } from "./util.js";

let store, canvas, ctx;
let drawing = false, last = null, dirty = false;
let inFlight = false, pending = false;
// bumped by Clear: an answer to a request sent before it is about a drawing that is gone
let generation = 0;
// what the canvas shows, for the answer's labels; live answers while the network trains
let what = "your drawing", liveTimer = null, lastLive = 0;
const LIVE_MS = 500;              // at most two answers a second while it trains
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
  canvas.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(); }
  });
  $("d-clear").addEventListener("click", clear);
  $("d-pick").addEventListener("click", pick);
  store.on("state", (st) => { layout(st.model); if (dirty) request(what); });
  // live: while the network in use trains, read the drawing again (throttled)
  store.on("update", () => {
    if (store.current !== "draw" || !dirty || !trains(store.state) || liveTimer) return;
    liveTimer = setTimeout(() => { liveTimer = null; lastLive = performance.now(); request(what, true); },
      Math.max(0, lastLive + LIVE_MS - performance.now()));
  });
}

export function show() {}

// how a drawing is prepared for the model in use (28x28 from a 20x20 box; 8x8 for digits)
function layout(model) {
  const side = model && model.image_side, box = model && model.image_box;
  if (!side || !box) return;
  $("d-layout").textContent = box === side ? `cropped, fitted in ${side}×${side}`
    : `cropped, fitted in ${box}×${box}, centred by its centre of mass in ${side}×${side}`;
  $("d-prepared-caption").textContent = `the prepared ${side}×${side} input`;
}

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
  generation++;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  dirty = false;
  store.drawing = null;
  $("d-digit").textContent = "?";
  $("d-outputs").replaceChildren();
  drawGray($("d-prepared"), new Float32Array(28 * 28), 28, 28);
  $("d-prepared").setAttribute("aria-label", "the prepared 28 by 28 input: empty");
  $("d-latency").textContent = "";
  what = "your drawing";
  canvas.setAttribute("aria-label", "drawing area, empty: draw a digit with the mouse or by touch; with the keyboard, use Pick a test image");
  store.emit("drawing", null);
}

// A random test image, drawn on the canvas as dark ink on white: a drawing without a pointer.
async function pick() {
  try {
    const n = store.state && store.state.dataset ? store.state.dataset.n_test : 10000;
    const index = Math.floor(Math.random() * n), gen = generation;
    const r = await api(`/api/example?split=test&index=${index}`);
    if (gen !== generation) return;        // cleared while the image was on its way
    const x = unpack(r.input), side = Math.round(Math.sqrt(x.length));
    const small = document.createElement("canvas");
    small.width = small.height = side;
    const sctx = small.getContext("2d"), img = sctx.createImageData(side, side);
    for (let i = 0; i < x.length; i++) {
      const v = 255 - Math.round(255 * Math.max(0, Math.min(1, x[i])));
      img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v; img.data[4 * i + 3] = 255;
    }
    sctx.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
    dirty = true;
    canvas.setAttribute("aria-label", `drawing area, showing test image ${index} (a handwritten ${r.label})`);
    $("d-latency").textContent = `test image #${index}, labelled ${r.label}`;
    request(`test image ${index}, labelled ${r.label}`);
  } catch (e) {
    $("d-latency").textContent = e.message;
  }
}

// One request at a time; while one is out, remember that the drawing changed.  `live`: a
// reading of the same drawing by the network as it trains.
async function request(shown = "your drawing", live = false) {
  if (!dirty) return;
  what = shown;
  if (inFlight) { pending = true; return; }
  inFlight = true; pending = false;
  const label = what;                      // what it is, as when sent
  const image = canvas.toDataURL("image/png");
  const t0 = performance.now(), gen = generation;
  try {
    const r = await api("/api/predict", { image });
    if (gen !== generation) return;        // cleared meanwhile: the answer is for nothing
    const ms = performance.now() - t0;
    store.drawing = image;
    const input = unpack(r.input);
    const side = Math.round(Math.sqrt(input.length));
    drawGray($("d-prepared"), input, side, side);
    $("d-prepared").setAttribute("aria-label", `the prepared ${side} by ${side} input of ${label}`);
    $("d-digit").textContent = String(r.digit);
    outputBars($("d-outputs"), r.outputs);
    const lat = $("d-latency");
    if (label === "your drawing") lat.textContent = `prediction in ${ms.toFixed(0)} ms (server ${r.ms.toFixed(1)} ms)` + (live ? ", live while it trains" : "");
    lat.dataset.ms = ms.toFixed(2);
    lat.dataset.serverMs = r.ms.toFixed(2);
    // screen readers hear the answer once the stroke is done, and not more than every 1.5 s:
    // the finished drawing's, not that of a part of it whose answer came after the pen
    // was lifted (`pending`: the drawing changed since this was asked)
    if (!drawing && !live && !pending) announce("d-announce", `It reads ${r.digit} (output ${r.outputs[r.digit].toFixed(2)})`);
    store.emit("drawing", { image, result: r });
  } catch (e) {
    if (gen !== generation) return;
    $("d-digit").textContent = "?";
    $("d-latency").textContent = e.message;
  } finally {
    inFlight = false;
    if (pending) request(what);
  }
}
