// 4. The nudges: one example's wished-for changes, from the output back to the first layer;
// hand steps that follow them, re-measured, marked and undoable.
import { api, el, fmt, unpack, drawGray, drawDiverging, maxAbs, wishBar, computedFor, modelChange, staleNote, latestOnly } from "./util.js";

let store, last = null, costs = [], exampleKey = null, scales = null;
let shown = null, busy = 0;     // what the nudges shown were asked for: computedFor and req; asking
const ask = latestOnly();       // two quick Shows: the later one's answer, whichever comes first
const $ = (id) => document.getElementById(id);
const SHOW = 16;        // neurons listed per layer

export function init(s) {
  store = s;
  for (let d = 0; d < 10; d++) $("n-target").append(el("option", { value: d, text: String(d) }));
  $("n-target").value = "7";
  $("n-show").addEventListener("click", () => run(false));
  $("n-random").addEventListener("click", () => {
    const split = source() === "test" ? "test" : "train";
    const ds = store.state && store.state.dataset;
    const n = ds ? (split === "test" ? ds.n_test : ds.n_train) : 10000;
    $("n-index").value = Math.floor(Math.random() * n);
    pick(split);
    run(false);
  });
  $("n-index").addEventListener("change", () => { if (source() === "drawing") pick("train"); });
  $("n-target").addEventListener("change", () => pick("drawing"));
  store.on("model", (m) => { if (last && m && !m.training) stepInfo(m); });
  // another model, a run, a hand step elsewhere: the nudges stay, marked as the earlier model's
  for (const event of ["model", "state"]) store.on(event, mark);
}

function mark() {
  if (busy) return;
  const again = () => { if (!busy && shown) { exampleKey = null; run(false, shown.req); } };
  staleNote($("n-stale"), modelChange(shown && shown.was, store.state), again, $("n-show"));
}

export function show() {
  if (!last && store.drawing) {
    const r = document.getElementById("d-digit").textContent;
    if (/^\d$/.test(r)) $("n-target").value = r;
  }
}

/** Show the nudges of example `index` of `split` ("train" or "test"), e.g. from the mistakes. */
export function openExample(split, index) {
  pick(split);
  $("n-index").value = index;
  store.show("nudges");
  run(false);
}

const source = () => document.querySelector('input[name="n-source"]:checked').value;
const pick = (v) => { document.querySelector(`input[name="n-source"][value="${v}"]`).checked = true; };

function request() {
  const src = source();
  if (src === "drawing") {
    if (!store.drawing) throw new Error("draw a digit on tab 2 first, or choose a training or test example");
    return { image: store.drawing, target: Number($("n-target").value) };
  }
  return { example: { split: src, index: Math.max(0, Math.floor(Number($("n-index").value) || 0)) } };
}

// `given`: the example shown (a step, an undo, computing again), else the one chosen above
async function run(step, given = null) {
  const body = $("n-body"), current = ask();
  let req;
  try {
    req = given ? { ...given } : request();
  } catch (e) {
    body.replaceChildren(el("p", { class: "message error", text: e.message }));
    shown = null;
    mark();
    return;
  }
  const key = JSON.stringify(req);
  if (key !== exampleKey) { costs = []; exampleKey = key; scales = null; }
  const asked = { ...req }, was = computedFor(store.state);
  if (step) req.learning_rate = Number($("n-lr") ? $("n-lr").value : 1);
  busy++;
  try {
    const r = await api(step ? "/api/nudges/step" : "/api/nudges", req);
    if (!current()) {                   // a later question's answer is the one to show
      if (step) { store.modelInfo(r.model); store.refresh(); }      // (the step was taken)
      return;
    }
    if (!costs.length) costs.push(step ? r.cost_before : r.cost);
    if (step) costs.push(r.cost_after);
    last = r;
    shown = { was: step ? computedFor(store.state, r.model) : was, req: asked };
    render(r, step);
    if (step) { store.modelInfo(r.model); store.refresh(); }
  } catch (e) {
    if (!current()) return;
    // a refused step (e.g. while training) keeps the view and says why next to the button
    if (step && $("n-step-msg")) { $("n-step-msg").textContent = e.message; $("n-step-msg").classList.add("error"); }
    else { body.replaceChildren(el("p", { class: "message error", text: e.message })); shown = null; }
  } finally { busy--; mark(); }
}

async function undo(all) {
  busy++;
  try {
    const r = await api("/api/nudges/undo", { all });
    store.modelInfo(r.model);
    costs = costs.slice(0, all ? 1 : -1);
    await run(false, shown && shown.req);
    store.refresh();
    $("n-step-msg").textContent = all ? "all hand steps undone" : "last hand step undone";
  } catch (e) {
    $("n-step-msg").textContent = e.message;
    $("n-step-msg").classList.add("error");
  } finally { busy--; mark(); }
}

// the bars' and pictures' scales are those of the example's first view, so that the
// nudges visibly shrink as steps are taken (a bar past the end is drawn full)
function scaleFor(name, values) {
  if (!scales) scales = {};
  if (!(name in scales)) scales[name] = maxAbs(values) || 1;
  return scales[name];
}

function stepInfo(model) {
  const box = $("n-modified");
  if (!box) return;
  const m = model && model.modified;
  box.hidden = !m;
  $("n-undo").disabled = !m;
  $("n-undo-all").disabled = !m;
  if (!m) return;
  box.replaceChildren(el("b", { text: `Modified by hand: ${fmt.counted(m.steps, "step")}. ` }),
    `Accuracy on the first ${fmt.int(m.examples)} test images: ${fmt.pct(m.accuracy_before, 1)} before, `,
    el("b", { text: fmt.pct(m.accuracy_now, 1) }), " now.",
    ...(m.accuracy_now < m.accuracy_before - 0.005
      ? [el("span", { text: " Teaching one example this hard costs the others: one example's gradient is not the whole training set's." })]
      : []));
}

function describe(r) {
  const req = JSON.parse(exampleKey);
  if (r.label == null) return `your drawing, meant as ${r.target}`;
  return `${req.example.split === "test" ? "test" : "training"} example #${req.example.index}, labelled ${r.label}`;
}

function stepCard(r, keepLr) {
  const lrInput = el("input", { id: "n-lr", type: "number", step: "any", min: "0.000001", max: "100", value: keepLr, class: "narrow", "aria-label": "learning rate for the step" });
  const stepBtn = el("button", { type: "button", id: "n-step", class: "primary", text: "Take one gradient step" });
  stepBtn.addEventListener("click", () => run(true, shown && shown.req));
  const undoBtn = el("button", { type: "button", id: "n-undo", text: "Undo the last step" });
  undoBtn.addEventListener("click", () => undo(false));
  const undoAll = el("button", { type: "button", id: "n-undo-all", text: "Undo all" });
  undoAll.addEventListener("click", () => undo(true));
  const fall = el("div", { class: "cost-fall", id: "n-cost-fall" });
  if (costs.length > 1) {
    fall.append("cost ", ...costs.slice(-6).flatMap((c, i, arr) => [el(i === arr.length - 1 ? "b" : "span", { text: fmt.sig(c, 4) }), i < arr.length - 1 ? " → " : ""]));
  } else fall.append(`cost of this example: ${fmt.sig(r.cost, 4)}`);
  return el("div", { class: "card" },
    el("h2", { text: "Follow the nudges" }),
    el("p", { class: "small muted", text: "Apply one step of gradient descent on this example alone (θ ← θ − η ∂Cₓ/∂θ) to the model in use." }),
    el("div", { class: "step-box" }, el("label", {}, "η ", lrInput), stepBtn),
    fall,
    el("div", { id: "n-modified", class: "modified-box", hidden: "" }),
    el("div", { class: "buttons" }, undoBtn, undoAll),
    el("p", { id: "n-step-msg", class: "message", role: "status" }));
}

function render(r, stepped) {
  const body = $("n-body");
  const keepLr = $("n-lr") ? $("n-lr").value : "1";
  const input = unpack(r.input);
  const side = input.shape.length === 2 ? input.shape[0] : Math.round(Math.sqrt(input.length));
  const pic = el("canvas", { class: "pixel big", role: "img", "aria-label": `the input: ${describe(r)}` });
  drawGray(pic, input, side, side);
  const scale = scaleFor("outputs", r.wished_outputs);
  const rows = r.outputs.map((a, j) => el("tr", {},
    el("td", { text: String(j) }),
    el("td", { class: "num", text: a.toFixed(3) }),
    el("td", { class: "num", text: r.targets[j].toFixed(0) }),
    el("td", { class: "num", text: fmt.nudge(r.wished_outputs[j]) }),
    el("td", { "aria-hidden": "true" }, wishBar(r.wished_outputs[j], scale))));
  const table = el("table", { class: "outputs-table" },
    el("thead", {}, el("tr", {}, ...["digit", "output a", "desired y", "wished-for nudge", "bar"].map((h) => el("th", { text: h })))),
    el("tbody", {}, ...rows));
  const top = el("div", { class: "nudge-top" },
    el("div", { class: "card" }, el("h2", { text: "Input" }), pic, el("p", { class: "small muted", text: describe(r) })),
    el("div", { class: "card" }, el("h2", { text: `Outputs vs desired outputs (reads ${r.digit}; cost ${fmt.sig(r.cost, 4)})` }), table,
      el("p", { class: "small muted", text: "wished-for nudge = −∂Cₓ/∂a: how much and which way the cost wants each output to move (bars keep the scale of the first look, so they shrink as you follow them)" })),
    stepCard(r, keepLr));
  const layers = r.layers.map((L, i) => layerCard(L, i === 0, side));
  body.replaceChildren(top, ...layers);
  stepInfo(r.model || (store.state && store.state.model));
  if (stepped) $("n-step").focus();
}

function layerCard(L, isOutput, side) {
  const biases = L.bias_nudges;
  const bscale = scaleFor(`b${L.layer}`, biases);
  const list = (values, scale, name) => el("table", {}, el("tbody", {}, ...values.slice(0, SHOW).map((v, j) => el("tr", {},
    el("td", { text: `${name} ${j}` }), el("td", { class: "num", text: fmt.nudge(v) }), el("td", { "aria-hidden": "true" }, wishBar(v, scale))))));
  const wn = unpack(L.weight_nudges);
  const prev = unpack(L.previous_nudges);
  const n = biases.length;
  let weightsPart;
  if (L.layer === 1 && wn.shape.length === 3) {
    const [nOut, h, w] = wn.shape;
    const s = scaleFor(`w${L.layer}`, wn);
    weightsPart = el("div", { class: "maps" }, ...Array.from({ length: Math.min(nOut, SHOW) }, (_, j) => {
      const c = el("canvas", { class: "pixel", role: "img", "aria-label": `weight nudges into neuron ${j}, as a picture` });
      drawDiverging(c, wn, w, h, s, j * h * w, 0.5);
      return el("figure", {}, c, el("figcaption", { text: `into neuron ${j}` }));
    }));
  } else {
    const [nOut, nIn] = wn.shape;
    const c = el("canvas", { class: "matrix", role: "img", "aria-label": `weight nudges, ${nOut} rows (this layer's neurons) by ${nIn} columns (the neurons they listen to)` });
    drawDiverging(c, wn, nIn, nOut, scaleFor(`w${L.layer}`, wn), 0, 0.5);
    c.style.aspectRatio = `${nIn} / ${nOut}`;
    weightsPart = el("div", {}, c, el("p", { class: "small muted", text: `rows: the ${nOut} neurons of this layer; columns: the ${nIn} neurons they listen to (blue: increase, red: decrease; square-root colour scale)` }));
  }
  let prevPart;
  if (L.previous_is_input) {
    const c = el("canvas", { class: "pixel mid", role: "img", "aria-label": "how the cost wants the pixels to change" });
    drawDiverging(c, prev, side, side, scaleFor("input", prev));
    prevPart = el("div", {}, c, el("p", { class: "small muted", text: "the wished-for nudge of each pixel (pixels cannot change; the weights can)" }));
  } else {
    prevPart = list(Array.from(prev), scaleFor(`a${L.layer}`, prev), "neuron");
  }
  const title = isOutput ? `Layer ${L.layer}: the output layer` : `Layer ${L.layer}${L.layer === 1 ? ": the first hidden layer" : ""}`;
  return el("div", { class: "card layer-card" },
    el("h3", { text: `${title} (${n} neurons)` }),
    el("p", { class: "small muted", text: "Three ways to move the weighted sums as wished: change the biases; change the weights, each in proportion to the activation it comes from (brighter neurons matter more); change the previous layer's activations, in proportion to the weights." }),
    el("div", { class: "layer-parts" },
      el("div", {}, el("h3", { text: "nudges to the biases" }), list(biases, bscale, isOutput ? "output" : "neuron"),
        n > SHOW ? el("p", { class: "small muted", text: `first ${SHOW} of ${n}` }) : null),
      el("div", {}, el("h3", { text: "nudges to the weights" }), weightsPart),
      el("div", {}, el("h3", { text: L.previous_is_input ? "wished-for nudges of the input" : "wished-for nudges of the previous activations" }), prevPart)));
}
