// 4. The nudges: one example's wished-for changes, from the output back to the first layer.
import { api, el, fmt, unpack, drawGray, drawDiverging, maxAbs, wishBar } from "./util.js";

let store, last = null, costs = [], exampleKey = null;
const $ = (id) => document.getElementById(id);
const SHOW = 16;        // neurons listed per layer

export function init(s) {
  store = s;
  for (let d = 0; d < 10; d++) $("n-target").append(el("option", { value: d, text: String(d) }));
  $("n-target").value = "7";
  $("n-show").addEventListener("click", () => run(false));
  $("n-random").addEventListener("click", () => {
    const n = store.state && store.state.dataset ? store.state.dataset.n_train : 60000;
    $("n-index").value = Math.floor(Math.random() * n);
    document.querySelector('input[name="n-source"][value="train"]').checked = true;
    run(false);
  });
  $("n-index").addEventListener("change", () => {
    document.querySelector('input[name="n-source"][value="train"]').checked = true;
  });
}

export function show() {
  if (!last && store.drawing) {
    const r = store.drawing && document.getElementById("d-digit").textContent;
    if (/^\d$/.test(r)) $("n-target").value = r;
  }
}

function request() {
  const src = document.querySelector('input[name="n-source"]:checked').value;
  if (src === "drawing") {
    if (!store.drawing) throw new Error("draw a digit on tab 2 first, or choose a training example");
    return { image: store.drawing, target: Number($("n-target").value) };
  }
  return { example: { split: "train", index: Math.max(0, Math.floor(Number($("n-index").value) || 0)) } };
}

async function run(step) {
  const body = $("n-body");
  try {
    const req = request();
    const key = JSON.stringify(req);
    if (key !== exampleKey) { costs = []; exampleKey = key; }
    if (step) req.learning_rate = Number($("n-lr") ? $("n-lr").value : 1);
    const r = await api(step ? "/api/nudges/step" : "/api/nudges", req);
    if (!costs.length) costs.push(step ? r.cost_before : r.cost);
    if (step) costs.push(r.cost_after);
    last = r;
    render(r, step);
    if (step) store.refresh();
  } catch (e) {
    body.replaceChildren(el("p", { class: "message error", text: e.message }));
  }
}

function render(r, stepped) {
  const body = $("n-body");
  const keepLr = $("n-lr") ? $("n-lr").value : "1";
  const input = unpack(r.input);
  const side = input.shape.length === 2 ? input.shape[0] : Math.round(Math.sqrt(input.length));
  const pic = el("canvas", { class: "pixel big", "aria-label": "the input" });
  drawGray(pic, input, side, side);
  const scale = Math.max(...r.wished_outputs.map(Math.abs)) || 1;
  const rows = r.outputs.map((a, j) => el("tr", {},
    el("td", { text: String(j) }),
    el("td", { class: "num", text: a.toFixed(3) }),
    el("td", { class: "num", text: r.targets[j].toFixed(0) }),
    el("td", { class: "num", text: fmt.signed(r.wished_outputs[j], 3) }),
    el("td", {}, wishBar(r.wished_outputs[j], scale))));
  const table = el("table", { class: "outputs-table" },
    el("thead", {}, el("tr", {}, ...["digit", "output a", "target y", "wished nudge", ""].map((h) => el("th", { text: h })))),
    el("tbody", {}, ...rows));
  const what = r.label != null ? `training example #${JSON.parse(exampleKey).example.index}, labelled ${r.label}` : `your drawing, meant as ${r.target}`;
  const lrInput = el("input", { id: "n-lr", type: "number", step: "any", min: "0.000001", max: "100", value: keepLr, class: "narrow", "aria-label": "learning rate for the step" });
  const stepBtn = el("button", { type: "button", id: "n-step", class: "primary", text: "Take one gradient step" });
  stepBtn.addEventListener("click", () => run(true));
  const fall = el("div", { class: "cost-fall", id: "n-cost-fall" });
  if (costs.length > 1) {
    fall.append("cost ", ...costs.slice(-6).flatMap((c, i, arr) => [el(i === arr.length - 1 ? "b" : "span", { text: c.toFixed(4) }), i < arr.length - 1 ? " → " : ""]));
  } else fall.append(`cost of this example: ${r.cost.toFixed(4)}`);
  const stepCard = el("div", { class: "card" },
    el("h2", { text: "Follow the nudges" }),
    el("p", { class: "small muted", text: "Apply one step of gradient descent on this example alone (θ ← θ − η ∂Cₓ/∂θ) to the model in use." }),
    el("div", { class: "step-box" }, el("label", {}, "η ", lrInput), stepBtn),
    fall);
  const top = el("div", { class: "nudge-top" },
    el("div", { class: "card" }, el("h2", { text: "Input" }), pic, el("p", { class: "small muted", text: what })),
    el("div", { class: "card" }, el("h2", { text: `Outputs vs targets (reads ${r.digit}; cost ${r.cost.toFixed(4)})` }), table,
      el("p", { class: "small muted", text: "wished nudge = −∂Cₓ/∂a: how much and which way the cost wants each output to move" })),
    stepCard);
  const layers = r.layers.map((L, i) => layerCard(L, i === 0, r, side));
  body.replaceChildren(top, ...layers);
  if (stepped) $("n-step").focus();
}

function layerCard(L, isOutput, r, side) {
  const biases = L.bias_nudges;
  const bscale = maxAbs(biases) || 1;
  const list = (values, scale, name) => el("table", {}, el("tbody", {}, ...values.slice(0, SHOW).map((v, j) => el("tr", {},
    el("td", { text: `${name} ${j}` }), el("td", { class: "num", text: fmt.signed(v, 3) }), el("td", {}, wishBar(v, scale))))));
  const wn = unpack(L.weight_nudges);
  const prev = unpack(L.previous_nudges);
  const n = biases.length;
  let weightsPart;
  if (L.layer === 1 && wn.shape.length === 3) {
    const [nOut, h, w] = wn.shape;
    const s = maxAbs(wn) || 1;
    weightsPart = el("div", { class: "maps" }, ...Array.from({ length: Math.min(nOut, SHOW) }, (_, j) => {
      const c = el("canvas", { class: "pixel", "aria-label": `weight nudges into neuron ${j}` });
      drawDiverging(c, wn, w, h, s, j * h * w, 0.5);
      return el("figure", {}, c, el("figcaption", { text: `into neuron ${j}` }));
    }));
  } else {
    const [nOut, nIn] = wn.shape;
    const c = el("canvas", { class: "matrix", "aria-label": "weight nudges, one row per neuron of this layer" });
    drawDiverging(c, wn, nIn, nOut, maxAbs(wn) || 1, 0, 0.5);
    c.style.aspectRatio = `${nIn} / ${nOut}`;
    weightsPart = el("div", {}, c, el("p", { class: "small muted", text: `rows: the ${nOut} neurons of this layer; columns: the ${nIn} neurons they listen to (blue: increase, red: decrease; square-root colour scale)` }));
  }
  let prevPart;
  if (L.previous_is_input) {
    const c = el("canvas", { class: "pixel mid", "aria-label": "how the cost wants the pixels to change" });
    drawDiverging(c, prev, side, side, maxAbs(prev) || 1);
    prevPart = el("div", {}, c, el("p", { class: "small muted", text: "the wished change of each pixel (pixels cannot change; the weights can)" }));
  } else {
    prevPart = list(Array.from(prev), maxAbs(prev) || 1, "neuron");
  }
  const title = isOutput ? `Layer ${L.layer}: the output layer` : `Layer ${L.layer}${L.layer === 1 ? ": the first hidden layer" : ""}`;
  return el("div", { class: "card layer-card" },
    el("h3", { text: `${title} (${n} neurons)` }),
    el("p", { class: "small muted", text: "Three ways to move the weighted sums as wished: change the biases; change the weights, each in proportion to the activation it comes from (brighter neurons matter more); change the previous layer's activations, in proportion to the weights." }),
    el("div", { class: "layer-parts" },
      el("div", {}, el("h3", { text: "nudges to the biases" }), list(biases, bscale, isOutput ? "output" : "neuron"),
        n > SHOW ? el("p", { class: "small muted", text: `first ${SHOW} of ${n}` }) : null),
      el("div", {}, el("h3", { text: "nudges to the weights" }), weightsPart),
      el("div", {}, el("h3", { text: L.previous_is_input ? "wished change of the input" : "wished change of the previous activations" }), prevPart)));
}
