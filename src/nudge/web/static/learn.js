// 1. Watch it learn: settings, controls, and the live stream from the server.
import { api, el, fmt, lineChart, divergingRGB } from "./util.js";

let store;
let points = [];           // [examples seen, smoothed cost]
let training = null;       // the latest summary
let weights = null;        // first-layer weights (bytes) while training
let drawPending = false;
let eventsThisSecond = 0, eventsTotal = 0;
const $ = (id) => document.getElementById(id);

export function init(s) {
  store = s;
  $("train-form").addEventListener("submit", (e) => { e.preventDefault(); start(); });
  $("t-pause").addEventListener("click", () => control("pause"));
  $("t-resume").addEventListener("click", () => control("resume"));
  $("t-stop").addEventListener("click", () => control("stop"));
  $("t-reset").addEventListener("click", () => control("reset"));
  $("t-preset").addEventListener("change", applyPreset);
  store.on("state", (st) => {
    if (!$("t-preset").options.length) fillChoices(st);
    if (st.training && !training) { training = st.training; render(); }
  });
  connect();
  setInterval(() => { $("s-updates").textContent = eventsThisSecond; eventsThisSecond = 0; }, 1000);
  window.addEventListener("resize", () => schedule());
  buttons();
}

export function show() { schedule(); }

function fillChoices(st) {
  const preset = $("t-preset");
  for (const [name, p] of Object.entries(st.presets)) {
    preset.append(el("option", { value: name, text: `${name}: ${p.sizes.join("-")}`, title: p.description }));
  }
  preset.append(el("option", { value: "custom", text: "custom" }));
  for (const a of st.activations) $("t-activation").append(el("option", { value: a, text: a }));
  applyPreset();
  if (st.dataset && st.dataset.n_train < 60000) {
    const sel = $("t-examples");
    sel.replaceChildren(el("option", { value: String(st.dataset.n_train), text: `all ${st.dataset.n_train} (${st.dataset.name})` }));
  }
}

function applyPreset() {
  const name = $("t-preset").value;
  const p = store.state && store.state.presets[name];
  if (!p) return;
  $("t-hidden").value = p.sizes.slice(1, -1).join(",");
  $("t-activation").value = p.activation;
  $("t-lr").value = p.learning_rate;
  $("t-batch").value = p.batch_size;
  $("t-epochs").value = 3;
}

function message(text, error = false) {
  const m = $("t-message");
  m.textContent = text;
  m.classList.toggle("error", error);
}

async function start() {
  const hiddenText = $("t-hidden").value.trim();
  const hidden = hiddenText ? hiddenText.split(",").map((s) => Number(s.trim())) : [];
  if (hidden.some((h) => !Number.isInteger(h) || h < 1)) {
    message("hidden layers: write whole numbers separated by commas, e.g. 16,16", true);
    return;
  }
  const body = {
    preset: $("t-preset").value, hidden, activation: $("t-activation").value,
    learning_rate: Number($("t-lr").value), batch_size: Number($("t-batch").value),
    epochs: Number($("t-epochs").value), train_examples: Number($("t-examples").value),
  };
  try {
    const r = await api("/api/train/start", body);
    points = []; weights = null; training = r.training;
    message(r.message);
    render();
    store.refresh();
  } catch (e) { message(e.message, true); }
}

async function control(what) {
  try {
    const r = await api(`/api/train/${what}`, {});
    if (what === "reset") {
      training = null; points = []; weights = null;
      message("reset: the page's network is gone; start again whenever you like");
      store.refresh();
    } else {
      training = r.training;
      message({ pause: "paused", resume: "resumed", stop: "stopped: the network keeps what it learned" }[what]);
    }
    render();
  } catch (e) { message(e.message, true); }
}

function connect() {
  const es = new EventSource("/api/train/stream");
  es.onmessage = (ev) => {
    eventsThisSecond++;
    $("s-updates").dataset.total = ++eventsTotal;
    const msg = JSON.parse(ev.data);
    const wasActive = training && ["running", "paused", "stopping"].includes(training.state);
    if (msg.training === null) { training = null; points = []; weights = null; schedule(); return; }
    if (msg.replace) points = [];
    points.push(...msg.points);
    training = msg.training;
    if (msg.weights) weights = { ...msg.weights, side: msg.image_side };
    if (msg.model) store.modelInfo(msg.model);
    const active = ["running", "paused", "stopping"].includes(training.state);
    if (wasActive && !active) {
      message(training.message, training.state === "failed");
      store.refresh();
    }
    schedule();
  };
  es.onerror = () => { /* EventSource reconnects by itself */ };
}

function schedule() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => { drawPending = false; render(); });
}

function buttons() {
  const st = training ? training.state : "idle";
  const active = ["running", "paused", "stopping"].includes(st);
  $("t-start").disabled = active;
  $("t-pause").disabled = st !== "running";
  $("t-resume").disabled = st !== "paused";
  $("t-stop").disabled = !active;
  $("t-reset").disabled = !training;
  for (const id of ["t-preset", "t-hidden", "t-activation", "t-lr", "t-batch", "t-epochs", "t-examples"]) $(id).disabled = active;
}

function render() {
  buttons();
  const t = training;
  $("s-state").textContent = t ? t.state : "idle";
  $("s-epoch").textContent = t ? `${t.epoch} / ${t.epochs}` : "–";
  $("s-seen").textContent = t ? fmt.int(t.seen) : "–";
  $("s-rate").textContent = t && t.state === "running" ? fmt.int(t.examples_per_second) : "–";
  $("s-cost").textContent = t ? fmt.num(t.smoothed_cost) : "–";
  $("s-acc").textContent = t ? fmt.pct(t.test_accuracy) : "–";
  $("s-progress").style.width = t ? `${(100 * t.seen) / Math.max(1, t.total_examples)}%` : "0";
  if (store.current !== "learn") return;
  const epochs = t ? t.epoch_results : [];
  const total = t ? t.total_examples : 1;
  const kfmt = (x) => (x >= 1000 ? `${Math.round(x / 1000)}k` : String(Math.round(x)));
  lineChart($("cost-chart"), [
    { points, color: "#3b6ef5" },
    { points: epochs.filter((e) => e.test_cost != null).map((e) => [e.examples, e.test_cost]), color: "#f59e0b", dots: true },
  ], { xmin: 0, xmax: total, ymin: 0, xfmt: kfmt, xlabel: "examples seen", empty: "press Start to train" });
  lineChart($("acc-chart"), [
    { points: epochs.filter((e) => e.test_accuracy != null).map((e) => [e.epoch, e.test_accuracy]), color: "#16a34a", dots: true, line: true },
  ], { xmin: 0, xmax: t ? t.epochs : 1, ymin: 0, ymax: 1, yfmt: (y) => `${Math.round(100 * y)}%`, xlabel: "epoch", integerX: true, empty: "after the first epoch" });
  $("cost-chart").dataset.points = points.length;
  drawWeights();
}

function drawWeights() {
  const grid = $("weights-grid");
  if (!weights || !weights.side) {
    if (!grid.dataset.empty) { grid.replaceChildren(el("p", { class: "muted", text: "start training to see them" })); grid.dataset.empty = "1"; }
    return;
  }
  const [n, size] = weights.shape, side = weights.side;
  if (grid.dataset.empty || grid.children.length !== n) {
    delete grid.dataset.empty;
    grid.replaceChildren(...Array.from({ length: n }, (_, i) => el("figure", {},
      el("canvas", { class: "pixel", width: side, height: side, "aria-label": `weights of hidden neuron ${i}` }),
      el("figcaption", { text: `neuron ${i}` }))));
  }
  const bin = atob(weights.b64);
  const canvases = grid.querySelectorAll("canvas");
  for (let j = 0; j < n; j++) {
    const ctx = canvases[j].getContext("2d");
    const img = ctx.createImageData(side, side);
    for (let i = 0; i < size; i++) {
      const [r, g, b] = divergingRGB((bin.charCodeAt(j * size + i) - 128) / 127);
      img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }
}
