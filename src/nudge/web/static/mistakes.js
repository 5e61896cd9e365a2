// 5. Mistakes: the confusion matrix over the test set and the misclassified images;
// each opens in the nudges view ("why did it read this 4 as a 9, and what would change it?").
import { api, el, fmt, modelKey, latestOnly } from "./util.js";
import { openExample } from "./nudges.js";

let store, data = null, cell = null;
let shownFor = null;       // the model the matrix was asked for: its version, and if it trained
const ask = latestOnly();  // answers may come out of order: only the latest question's is shown
const $ = (id) => document.getElementById(id);

export function init(s) {
  store = s;
  $("x-run").addEventListener("click", () => load(null));
  $("x-all").addEventListener("click", () => load(null));
  // another model, a run's end, a hand step: the matrix shown is out of date, asked again
  for (const event of ["model", "state"]) store.on(event, () => { if (store.current === "mistakes") show(); });
}

export function show() {
  const m = store.state && store.state.model;
  if (m && modelKey(m) !== shownFor) load(data ? cell : null);
}

async function load(which) {
  cell = which;
  shownFor = modelKey(store.state && store.state.model);
  $("x-caption").textContent = "reading the test set…";
  const q = which ? `?label=${which[0]}&predicted=${which[1]}&limit=60` : "?limit=60";
  const current = ask();
  try {
    const d = await api(`/api/mistakes${q}`);
    if (!current()) return;              // an earlier model's (or cell's), come late
    data = d;
    $("x-caption").textContent = `${fmt.int(data.n - totalWrong(data))} of ${fmt.int(data.n)} test images read right (${fmt.pct(data.accuracy)}), in ${data.ms.toFixed(0)} ms`;
    matrix(data);
    gallery(data);
    $("x-all").hidden = !which;
  } catch (e) {
    if (current()) $("x-caption").textContent = e.message;
  }
}

function totalWrong(d) {
  let w = 0;
  d.confusion.forEach((row, i) => row.forEach((v, j) => { if (i !== j) w += v; }));
  return w;
}

function matrix(d) {
  const k = d.confusion.length;
  let maxOff = 1;
  d.confusion.forEach((row, i) => row.forEach((v, j) => { if (i !== j) maxOff = Math.max(maxOff, v); }));
  // the corner: two short lines, each pointing at what it names (one, "true \ read",
  // wrapped anywhere in a phone's narrow column); said in words to a screen reader
  const corner = el("th", { scope: "col", class: "corner" },
    el("span", { "aria-hidden": "true" }, el("span", { text: "read →" }), el("span", { text: "true ↓" })),
    el("span", { class: "sr-only", text: "true digit, by digit read" }));
  const head = el("tr", {}, corner,
    ...Array.from({ length: k }, (_, j) => el("th", { scope: "col", text: String(j) })));
  const rows = d.confusion.map((row, i) => el("tr", {}, el("th", { scope: "row", text: String(i) }),
    ...row.map((v, j) => {
      const diag = i === j;
      // off the diagonal: the more mistakes, the stronger the red; text stays dark on light
      const t = diag ? 0 : Math.sqrt(v / maxOff);
      const bg = diag ? "#e8f5ec" : `rgb(255, ${Math.round(255 - 120 * t)}, ${Math.round(255 - 130 * t)})`;
      if (diag || !v) {
        const c = el("span", { class: "cell", text: String(v), "aria-label": diag ? `${v} ${i}s read right` : `no ${i} read as ${j}` });
        c.style.background = bg;
        return el("td", { class: diag ? "diag" : "" }, c);
      }
      const b = el("button", { type: "button", text: String(v), "aria-label": `${v === 1 ? `one ${i}` : `${v} ${i}s`} read as ${j}: show them`,
        "aria-pressed": cell && cell[0] === i && cell[1] === j ? "true" : "false" });
      b.style.background = bg;
      b.style.color = "#1d2333";
      b.addEventListener("click", () => load([i, j]));
      return el("td", { class: diag ? "diag" : "" }, b);
    })));
  $("x-matrix").replaceChildren(el("table", { class: "confusion" }, el("thead", {}, head), el("tbody", {}, ...rows)));
}

function gallery(d) {
  const [n, side] = d.images.shape;
  $("x-gallery-title").textContent = cell
    ? `${fmt.counted(d.wrong, "test image")} of a ${cell[0]} read as ${cell[1]}${d.wrong > n ? ` (the ${n} most confident shown)` : ""}`
    : `${fmt.counted(d.wrong, "misclassified test image")}${d.wrong > n ? ` (the ${n} most confident shown)` : ""}`;
  const bin = atob(d.images.b64);
  const items = d.mistakes.map((m, i) => {
    const c = el("canvas", { width: side, height: side, "aria-hidden": "true" });
    const ctx = c.getContext("2d"), img = ctx.createImageData(side, side);
    for (let p = 0; p < side * side; p++) {
      const v = bin.charCodeAt(i * side * side + p);
      img.data[4 * p] = img.data[4 * p + 1] = img.data[4 * p + 2] = v; img.data[4 * p + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    const b = el("button", { type: "button", class: "mistake", "data-index": String(m.index),
      "aria-label": `test image ${m.index}: a ${m.label} read as ${m.predicted} (output ${m.output.toFixed(2)}); show its nudges` },
      c, el("span", { text: `${m.label} → ${m.predicted}` }));
    b.addEventListener("click", () => openExample("test", m.index));
    return b;
  });
  $("x-gallery").replaceChildren(...(items.length ? items : [el("p", { class: "muted", text: "no mistakes here" })]));
}
