// 3. Inside the network: the layers, lit by their activations; hover a neuron for its details.
import { api, el, fmt, unpack, drawGray, drawDiverging, maxAbs, below, bringIntoView, scrolls, latestOnly, trains } from "./util.js";

const SVG = "http://www.w3.org/2000/svg";
const MAX_SHOWN = 20;             // neurons drawn per layer (the rest are summarised)
let store, result = null, edges = {}, edgesVersion = null, neuronCache = {};
let liveTimer = null, lastLive = 0;
let chosen = null;                // the neuron the panel shows: {layer, index}
const LIVE_MS = 500;              // at most two updates a second while the network trains
const $ = (id) => document.getElementById(id);

export function init(s) {
  store = s;
  document.querySelectorAll('input[name="i-source"]').forEach((r) => r.addEventListener("change", update));
  $("i-index").addEventListener("change", () => { pick("test"); update(); });
  $("i-random").addEventListener("click", () => {
    const n = store.state && store.state.dataset ? store.state.dataset.n_test : 10000;
    $("i-index").value = Math.floor(Math.random() * n);
    pick("test");
    update();
  });
  store.on("drawing", () => { if (store.current === "inside" && source() === "drawing") update(); });
  // live: while the network in use trains, redraw it (throttled) with the new weights
  store.on("update", () => {
    if (store.current !== "inside" || !trains(store.state) || liveTimer || running) return;
    liveTimer = setTimeout(() => { liveTimer = null; lastLive = performance.now(); update(true); },
      Math.max(0, lastLive + LIVE_MS - performance.now()));
  });
  store.on("model", (m) => {
    if (store.current === "inside" && m && !m.training && edgesVersion !== null && !edgesVersion.startsWith(`${m.version}-`)) update();
  });
  window.addEventListener("resize", () => { if (store.current === "inside" && result) diagram(store.state.model); });
}

export function show() { update(); }

const source = () => document.querySelector('input[name="i-source"]:checked').value;
const pick = (v) => { document.querySelector(`input[name="i-source"][value="${v}"]`).checked = true; };

// Updates overlap (a live redraw, the one at the run's end, a new image): an answer to one
// that a later one has followed is out of date (a live answer arriving after the final
// redraw would show the network as it was, "live", once the run had ended).  A live redraw
// waits for the update under way (else, on a slow machine, each would cut the last short)
const updating = latestOnly();
let running = 0;

async function update(live = false) {
  const svg = $("diagram");
  const model = store.state && store.state.model;
  const current = updating();
  if (!model) { message(svg, "No model yet: train one on tab 1 or start nudge serve --model FILE."); return; }
  running++;
  try {
    let r = null, caption = "draw a digit on tab 2, or pick a test image";
    if (source() === "drawing") {
      if (store.drawing) {
        r = await api("/api/predict", { image: store.drawing });
        caption = `your drawing, read as ${r.digit}`;
      }
    } else {
      // a number past the test set (or below 0) is taken as its last (first) image, and the
      // field says so: refused, the diagram said why while the caption and the field still
      // named the image before (or, from "my drawing", the drawing)
      const n = store.state && store.state.dataset ? store.state.dataset.n_test : 10000;
      const index = Math.min(n - 1, Math.max(0, Math.floor(Number($("i-index").value) || 0)));
      $("i-index").value = index;
      $("i-index").max = n - 1;
      r = await api(`/api/example?split=test&index=${index}`);
      caption = `test image #${index}: labelled ${r.label}, read as ${r.digit}` + (live ? " (live, while it trains)" : "");
    }
    if (!current()) return;
    result = r;
    $("i-caption").textContent = caption;
    await loadEdges(model, current);
    if (current()) diagram(model);
  } catch (e) {
    if (current()) { message(svg, e.message); $("i-caption").textContent = ""; }
  } finally { running--; }
}

function message(svg, text) {
  svg.replaceChildren();
  svg.setAttribute("viewBox", "0 0 600 80");
  const t = document.createElementNS(SVG, "text");
  t.setAttribute("x", 20); t.setAttribute("y", 45); t.setAttribute("fill", "#c5cce0");
  t.setAttribute("font-size", "15");
  t.textContent = text;
  svg.append(t);
}

async function loadEdges(model, current) {
  const key = `${model.version}-${model.sizes.join("-")}-${model.training}`;
  if (edgesVersion === key && !model.training) return;
  const fresh = {};
  for (let l = 2; l < model.sizes.length; l++) {
    const r = await api(`/api/weights?layer=${l}`);
    fresh[l] = unpack(r.weights);
  }
  if (!current()) return;                // a later update's weights are the ones to show
  edges = fresh;
  neuronCache = {};
  edgesVersion = key;
}

function shown(n) { return Math.min(n, MAX_SHOWN); }

function diagram(model) {
  const svg = $("diagram");
  const sizes = model.sizes, L = sizes.length;
  // a narrow screen gets a narrower drawing (so the text stays readable when it is scaled)
  const narrow = (svg.parentElement.clientWidth || 960) < 600;
  const W = narrow ? 420 : 960, H = narrow ? 600 : 560, top = 40, bottom = 30;
  const pic = narrow ? 70 : 140, first = narrow ? 130 : 240, right = narrow ? 70 : 100;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.dataset.layout = narrow ? "narrow" : "wide";
  const had = svg.contains(document.activeElement) ? { ...document.activeElement.dataset } : null;
  svg.replaceChildren();
  const xs = sizes.map((_, l) => (l === 0 ? 10 + pic / 2 : first + ((l - 1) * (W - first - right)) / Math.max(1, L - 2)));
  const ys = (l) => {
    const n = shown(sizes[l]);
    const gap = (H - top - bottom) / n;
    return Array.from({ length: n }, (_, i) => top + gap * (i + 0.5));
  };
  const radius = (l) => Math.max(5, Math.min(15, ((H - top - bottom) / shown(sizes[l])) * 0.36));
  const acts = result ? result.activations : sizes.slice(1).map((n) => new Array(n).fill(0));
  const gEdges = document.createElementNS(SVG, "g");
  svg.append(gEdges);
  // input picture and a fan of lines to the first layer
  const side = model.image_side;
  const y1 = ys(1);
  if (result && side) {
    const c = document.createElement("canvas");
    drawGray(c, unpack(result.input), side, side);
    const img = document.createElementNS(SVG, "image");
    img.setAttribute("href", c.toDataURL());
    img.setAttribute("x", 10); img.setAttribute("y", H / 2 - pic / 2);
    img.setAttribute("width", pic); img.setAttribute("height", pic);
    img.setAttribute("role", "img");
    img.setAttribute("aria-label", "the input image");
    img.style.imageRendering = "pixelated";
    svg.append(img);
  }
  for (const y of y1) line(gEdges, 12 + pic, H / 2, xs[1] - radius(1), y, "#5b6580", 0.35, 0.8);
  label(svg, 10 + pic / 2, 24, narrow ? "input" : `input (${sizes[0]})`);
  // edges between the layers: colour = sign, opacity = size
  for (let l = 2; l < L; l++) {
    const Wl = edges[l];
    if (!Wl) continue;
    const nIn = sizes[l - 1], yIn = ys(l - 1), yOut = ys(l);
    const m = maxAbs(Wl) || 1;
    yOut.forEach((yo, j) => yIn.forEach((yi, k) => {
      const w = Wl[j * nIn + k];
      line(gEdges, xs[l - 1] + radius(l - 1), yi, xs[l] - radius(l), yo, w >= 0 ? "#5b8cff" : "#ff6b5e", Math.min(0.9, Math.abs(w) / m), 1.2);
    }));
  }
  // neurons
  for (let l = 1; l < L; l++) {
    const a = acts[l - 1];
    const scale = model.activation === "sigmoid" || l === L - 1 ? 1 : Math.max(1e-9, ...a.map(Math.abs));
    const name = l === L - 1 ? `output (${sizes[l]})` : `hidden layer ${l} (${sizes[l]})`;
    label(svg, xs[l], 24, narrow ? (l === L - 1 ? "output" : `layer ${l}`) : name);
    ys(l).forEach((y, i) => {
      const v = Math.max(0, Math.min(1, a[i] / scale));
      const g = document.createElementNS(SVG, "g");
      g.setAttribute("class", "neuron");
      g.setAttribute("tabindex", "0");
      g.setAttribute("role", "button");
      g.setAttribute("aria-label", `${name}, neuron ${i}: activation ${a[i].toFixed(3)}`);
      g.dataset.layer = l; g.dataset.index = i;
      const c = document.createElementNS(SVG, "circle");
      c.setAttribute("cx", xs[l]); c.setAttribute("cy", y); c.setAttribute("r", radius(l));
      const lum = Math.round(30 + 225 * v);
      c.setAttribute("fill", `rgb(${lum},${lum},${lum})`);
      c.setAttribute("stroke", "#8791ab"); c.setAttribute("stroke-width", 1);
      g.append(c);
      const title = document.createElementNS(SVG, "title");
      title.textContent = `layer ${l}, neuron ${i}: a = ${a[i].toFixed(4)}`;
      g.append(title);
      if (l === L - 1) {
        const t = document.createElementNS(SVG, "text");
        t.setAttribute("x", xs[l] + radius(l) + 8); t.setAttribute("y", y + 4);
        t.setAttribute("class", "out-label");
        t.textContent = `${i}  ${a[i].toFixed(2)}`;
        if (result && i === result.digit) t.setAttribute("font-weight", "700");
        g.append(t);
      }
      const focus = () => select(g, model, l, i);
      g.addEventListener("mouseenter", focus);
      g.addEventListener("focus", focus);
      // chosen (a tap, a click, Enter or Space): on a phone the panel below comes into view
      g.addEventListener("click", () => select(g, model, l, i, "pointer"));
      g.addEventListener("keydown", (e) => {
        if (e.key !== "Enter" && e.key !== " ") return;
        e.preventDefault();
        select(g, model, l, i, "keyboard");
      });
      svg.append(g);
    });
    if (sizes[l] > MAX_SHOWN) label(svg, xs[l], H - 8, narrow ? `${MAX_SHOWN} of ${sizes[l]}` : `first ${MAX_SHOWN} of ${sizes[l]} shown`);
  }
  // the panel follows the redraw: another model's (or the trained further) neuron, not the
  // one it showed before; a neuron the new network lacks leaves the panel empty
  const again = chosen && svg.querySelector(`.neuron[data-layer="${chosen.layer}"][data-index="${chosen.index}"]`);
  if (again) select(again, model, chosen.layer, chosen.index);
  else if (chosen) {
    chosen = null;
    $("neuron-panel").replaceChildren(el("h2", { text: "Neuron" }), el("p", { class: "muted", text: "Hover over or focus a neuron." }));
  }
  if (had && had.layer) {          // a live redraw keeps the keyboard focus where it was
    const again = svg.querySelector(`.neuron[data-layer="${had.layer}"][data-index="${had.index}"]`);
    if (again) again.focus({ preventScroll: true });
  }
}

// a neuron's activation from its weighted sum, in the network's own function
function squash(fn) {
  if (fn === "softmax") return "a = softmax(z), over the whole layer's sums";
  return `a = ${fn === "sigmoid" ? "σ" : fn}(z)`;
}

function line(parent, x1, y1, x2, y2, color, opacity, width) {
  const ln = document.createElementNS(SVG, "line");
  ln.setAttribute("x1", x1); ln.setAttribute("y1", y1); ln.setAttribute("x2", x2); ln.setAttribute("y2", y2);
  ln.setAttribute("stroke", color); ln.setAttribute("stroke-opacity", opacity.toFixed(3));
  ln.setAttribute("stroke-width", width);
  parent.append(ln);
}

function label(svg, x, y, text) {
  const t = document.createElementNS(SVG, "text");
  t.setAttribute("x", x); t.setAttribute("y", y); t.setAttribute("text-anchor", "middle");
  t.setAttribute("class", "layer-label");
  t.textContent = text;
  svg.append(t);
}

// Choices overlap (hover, focus and click for one tap): only the latest fills the panel.
// One chosen by `how` ("pointer" or "keyboard") comes into view where the panel stands below
// the diagram (a phone), and the keyboard's focus with it, and a button leads back.
const selecting = latestOnly();

async function select(g, model, layer, index, how = null) {
  document.querySelectorAll("#diagram .neuron.selected").forEach((n) => n.classList.remove("selected"));
  g.classList.add("selected");
  chosen = { layer, index };
  const key = `${layer}-${index}`;
  const panel = $("neuron-panel");
  const at = scrolls(), current = selecting();
  try {
    const info = neuronCache[key] || (neuronCache[key] = await api(`/api/neuron?layer=${layer}&index=${index}`));
    if (!current()) return;
    const w = unpack(info.weights);
    const prev = layer === 1 ? (result ? unpack(result.input) : null) : (result ? result.activations[layer - 2] : null);
    const a = result ? result.activations[layer - 1][index] : null;
    const z = result ? result.sums[layer - 1][index] : null;
    let dot = null;
    if (prev) { dot = 0; for (let k = 0; k < w.length; k++) dot += w[k] * prev[k]; }
    const last = layer === model.sizes.length - 1;
    const pic = el("canvas", { class: "pixel mid", "aria-label": "incoming weights" });
    if (layer === 1 && w.shape.length === 2) drawDiverging(pic, w, w.shape[1], w.shape[0], maxAbs(w));
    else drawDiverging(pic, w, w.length, 1, maxAbs(w));
    if (!(layer === 1 && w.shape.length === 2)) { pic.classList.remove("mid"); pic.style.aspectRatio = `${w.length} / 3`; pic.style.height = "28px"; }
    const stacked = below(panel, $("diagram").parentElement);
    panel.replaceChildren(
      el("h2", { text: `${last ? "Output" : "Hidden"} neuron ${index} of layer ${layer}`, tabindex: "-1" }),
      el("dl", {},
        el("dt", { text: "activation a" }), el("dd", { text: fmt.num(a) }),
        el("dt", { text: "weighted sum z" }), el("dd", { text: fmt.num(z) }),
        el("dt", { text: "Σ w·a (incoming)" }), el("dd", { text: fmt.num(dot) }),
        el("dt", { text: "bias b" }), el("dd", { text: fmt.num(info.bias) }),
        el("dt", { text: "weights" }), el("dd", { text: `${w.length}, from ${fmt.num(info.min_weight, 2)} to ${fmt.num(info.max_weight, 2)}` })),
      el("p", { class: "small muted", text: `z = Σ w·a + b, and ${squash(last ? model.output : model.activation)}.` }),
      el("h3", { text: layer === 1 && w.shape.length === 2 ? `Incoming weights, as a picture (${w.shape[1]}×${w.shape[0]})` : "Incoming weights" }),
      pic,
      el("p", { class: "small muted" }, `blue: positive weights (${layer === 1 ? "ink there" : "a more active neuron there"} raises z); red: negative.`),
      ...(stacked ? [el("button", { type: "button", text: "Back to the diagram", onclick: () => back(layer, index) })] : []));
    if (how && stacked) {
      if (how === "keyboard") panel.querySelector("h2").focus({ preventScroll: true });
      bringIntoView(panel, at);
    }
  } catch (e) {
    if (current()) panel.replaceChildren(el("h2", { text: "Neuron" }), el("p", { class: "message error", text: e.message }));
  }
}

// from the panel below (a phone) to its neuron in the diagram, the focus with it
function back(layer, index) {
  const g = $("diagram").querySelector(`.neuron[data-layer="${layer}"][data-index="${index}"]`);
  if (!g) return;
  g.focus({ preventScroll: true });
  bringIntoView(g, scrolls(), "center");
}
