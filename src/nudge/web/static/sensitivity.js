// 5. Sensitivity: which parameters the cost is most sensitive to; first-layer |∂C/∂w| maps.
import { api, el, fmt, unpack, drawHeat, maxAbs, computedFor, modelChange, staleNote } from "./util.js";

let store;
let shown = null, busy = false;    // what the result shown was computed for (computedFor); computing
const $ = (id) => document.getElementById(id);

export function init(s) {
  store = s;
  $("g-run").addEventListener("click", run);
  // another model, a run, a hand step: the result stays, marked as the earlier model's
  for (const event of ["model", "state"]) store.on(event, mark);
}

export function show() {}

function mark() {
  if (!busy) staleNote($("g-stale"), modelChange(shown, store.state), run, $("g-run"));
}

async function run() {
  if (busy) return;
  const body = $("g-body");
  const asked = computedFor(store.state);
  busy = true;
  $("g-caption").textContent = "computing…";
  $("g-run").disabled = true;
  try {
    const r = await api(`/api/sensitivity?examples=${Number($("g-examples").value)}&top=20`);
    $("g-caption").textContent = `gradient over ${fmt.int(r.examples)} examples in ${r.ms.toFixed(0)} ms; |∇C| = ${fmt.sig(r.gradient_norm)}; the top 1% of the ${fmt.int(r.n_parameters)} parameters hold ${fmt.pct(r.top1_percent_share, 1)} of the squared gradient`;
    const rows = r.top.map((p, i) => el("tr", {},
      el("td", { class: "num", text: String(i + 1) }), el("td", { text: p.name }),
      el("td", { class: "num", text: fmt.sig(p.gradient, 3) }),
      el("td", { text: p.gradient > 0 ? "↓ down" : "↑ up" })));
    const table = el("table", {},
      el("thead", {}, el("tr", {}, ...["#", "parameter", "∂C/∂θ", "should go"].map((h) => el("th", { text: h })))),
      el("tbody", {}, ...rows));
    const share = el("table", {}, el("thead", {}, el("tr", {}, ...["layer", "weights", "biases", "largest |∂C/∂θ|"].map((h) => el("th", { text: h })))),
      el("tbody", {}, ...r.layers.map((l) => el("tr", {}, el("td", { text: String(l.layer) }),
        el("td", { class: "num", text: fmt.pct(l.weights_share, 1) }), el("td", { class: "num", text: fmt.pct(l.biases_share, 1) }),
        el("td", { class: "num", text: fmt.sig(l.max_abs) })))));
    const maps = unpack(r.first_layer_maps);
    let mapsPart;
    if (maps.shape.length === 3) {
      const [n, h, w] = maps.shape;
      const s = maxAbs(maps) || 1;
      mapsPart = el("div", { class: "maps" }, ...Array.from({ length: n }, (_, j) => {
        const c = el("canvas", { class: "pixel", role: "img", "aria-label": `|dC/dw| into hidden neuron ${j}, as a picture` });
        drawHeat(c, maps, w, h, s, j * h * w);
        return el("figure", {}, c, el("figcaption", { text: `neuron ${j}` }));
      }));
    } else mapsPart = el("p", { class: "muted", text: "the inputs are not a square image" });
    body.replaceChildren(
      el("div", { class: "card" }, el("h2", { text: "The most sensitive parameters" }), table),
      el("div", { class: "card" }, el("h2", { text: "First layer: |∂C/∂w| for each hidden neuron" }),
        el("p", { class: "small muted", text: "brighter: the cost is more sensitive to that pixel's weight (one colour scale for all)" }),
        mapsPart, el("h3", { text: "Share of the squared gradient" }), share));
    shown = asked;
  } catch (e) {
    $("g-caption").textContent = "";
    body.replaceChildren(el("p", { class: "message error", text: e.message }));
    shown = null;
  } finally {
    $("g-run").disabled = false;
    busy = false;
    mark();
  }
}
