// 7. Two ways down: full-batch gradient descent and SGD from one start (`nudge descent`):
// the cost against examples processed (or seconds), and the paths on the cost's plane.
import { api, el, fmt, lineChart, latestOnly, bringIntoView, scrolls } from "./util.js";

const COLORS = ["#c0392b", "#d97706", "#c026d3", "#0e7490"];    // one a run, as the CLI's figure
let result = null, busy = false, zoom = false;
const ask = latestOnly();      // answers may come out of order: only the latest is shown
const $ = (id) => document.getElementById(id);

export function init() {
  $("e-form").addEventListener("submit", (e) => { e.preventDefault(); run(); });
  $("e-against").addEventListener("change", costs);
  $("e-zoom").addEventListener("change", () => { zoom = $("e-zoom").checked; paths(); });
  let timer = null;
  window.addEventListener("resize", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { if (result && !$("view-descent").hidden) draw(); }, 100);
  });
}

export function show() { if (result) draw(); }      // (a hidden canvas has no width)

// "16,16" -> [16, 16]; "full,100" -> [null, 100]; what is not a number goes as typed, for
// the server to refuse with its one line
const list = (text, full = false) => text.split(",").map((s) => s.trim()).filter((s) => s !== "")
  .map((s) => (full && s.toLowerCase() === "full" ? null : s !== "" && isFinite(Number(s)) ? Number(s) : s));

function request() {
  const rates = $("e-rates").value.trim();
  return {
    hidden: list($("e-hidden").value), train_examples: Number($("e-examples").value),
    epochs: Number($("e-epochs").value), batch_sizes: list($("e-batches").value, true),
    learning_rates: rates ? list(rates) : null, seed: Number($("e-seed").value),
  };
}

async function run() {
  if (busy) return;                 // a second press while one runs is not sent again
  busy = true;
  const current = ask(), at = scrolls();
  $("e-run").disabled = true;
  $("e-message").className = "message";
  $("e-message").textContent = "running… (a few seconds)";
  try {
    const r = await api("/api/descent", request());
    if (!current()) return;
    result = r;
    $("e-message").textContent = `${r.sizes.join("-")} from one start (seed ${r.seed}), ${fmt.counted(r.epochs, "epoch")} over ${fmt.int(r.n_train)} ${r.dataset} training images, in ${(r.ms / 1000).toFixed(1)} s`;
    $("e-results").hidden = false;
    zoom = $("e-zoom").checked = false;
    draw();
    bringIntoView($("e-results"), at);
  } catch (e) {
    if (!current()) return;
    $("e-message").className = "message error";
    $("e-message").textContent = e.message;
  } finally {
    busy = false;
    $("e-run").disabled = false;
  }
}

function draw() {
  costs();
  paths();
  facts();
}

const label = (r) => `${r.label} (η = ${fmt.sci(r.learning_rate)})`;

function legend(box, items) {
  box.replaceChildren(...items.map(([text, color, kind = "line"]) => {
    const key = el("span", { class: `key ${kind}` });
    if (kind === "line") key.style.borderBottomColor = color; else key.style.background = color;
    return el("span", { class: "item" }, key, ` ${text}`);
  }));
}

// an x axis's labels, each exactly the value where it stands (1, 3, 10, 1k, 3k, 0.01)
const axisFmt = (x) => (x >= 1000 ? fmt.short(x) : Number(x.toPrecision(3)).toString());

function costs() {
  if (!result) return;
  const r = result, bySeconds = $("e-against").value === "seconds";
  const xs = (run) => (bySeconds ? run.seconds : run.examples);
  const series = r.runs.map((run, i) => ({
    color: COLORS[i % COLORS.length], line: true,
    points: xs(run).slice(1).map((x, k) => [x, run.costs[k + 1]]) }));   // from the first step on
  const all = r.runs.flatMap((run) => xs(run).slice(1)).filter((x) => x > 0);
  const lo = Math.min(...all), hi = Math.max(...all);
  series.push({ color: "#5d6780", points: [[lo, r.target_cost], [hi, r.target_cost]] });
  const c = $("e-costs");
  lineChart(c, series, { xlog: true, log: true, aspect: c.clientWidth < 500 ? 0.7 : 0.55, xfmt: axisFmt,
    xlabel: bySeconds ? "seconds of training (log scale)" : "examples processed (log scale)" });
  c.dataset.runs = String(r.runs.length);
  c.dataset.against = bySeconds ? "seconds" : "examples";
  c.setAttribute("aria-label", `cost against ${bySeconds ? "seconds of training" : "examples processed"}, log scales: ` +
    r.runs.map((run) => `${label(run)} from ${fmt.num(run.costs[0])} to ${fmt.num(run.costs.at(-1))} after ${fmt.int(run.examples.at(-1))} examples`).join("; ") +
    // the target is full-batch GD's final cost, or without it the run that ended highest's
    `; the target, ${r.runs.some((run) => run.batch_size == null) ? "full-batch GD's" : "the highest"} final cost, ${fmt.num(r.target_cost)}`);
  legend($("e-costs-legend"), [...r.runs.map((run, i) => [label(run), COLORS[i % COLORS.length]]),
    [`target: cost ${fmt.num(r.target_cost)}`, "#5d6780"]]);
}

// the cost over the plane: dark (low) to light (high), in 16 bands of equal numbers of
// grid points (the cost's quantiles, as the CLI's contours), so that every part shows
const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function ramp(t) {
  const x = Math.max(0, Math.min(1, t)) * (RAMP.length - 1), i = Math.min(RAMP.length - 2, Math.floor(x)), f = x - i;
  return RAMP[i].map((a, k) => Math.round(a + f * (RAMP[i + 1][k] - a)));
}

function plane(grid) {
  const rows = grid.length, cols = grid[0].length, flat = grid.flat().filter(isFinite).sort((a, b) => a - b);
  const band = (v) => {        // the share of grid points below v, in 16 steps
    let lo = 0, hi = flat.length;
    while (lo < hi) { const m = (lo + hi) >> 1; if (flat[m] < v) lo = m + 1; else hi = m; }
    return Math.floor((16 * lo) / flat.length) / 15;
  };
  const img = document.createElement("canvas");
  img.width = cols; img.height = rows;
  const ctx = img.getContext("2d"), data = ctx.createImageData(cols, rows);
  grid.forEach((row, i) => row.forEach((v, j) => {
    const p = 4 * ((rows - 1 - i) * cols + j);            // v grows upwards
    const [r, g, b] = isFinite(v) ? ramp(band(v)) : [255, 255, 255];
    data.data.set([r, g, b, 255], p);
  }));
  ctx.putImageData(data, 0, 0);
  return img;
}

function paths() {
  if (!result) return;
  const r = result, c = $("e-paths"), { u, v } = r.plane;
  const span = (pts) => Math.max(...[0, 1].map((k) => Math.max(...pts.map((p) => p[k])) - Math.min(...pts.map((p) => p[k]))));
  const extent = span(r.runs.flatMap((run) => run.path)) || 1;
  const small = r.runs.filter((run) => span(run.path) < 0.1 * extent);
  $("e-zoom-box").hidden = !small.length;
  // the box shown: the plane, or (magnified) the short paths and the start
  let box = [u[0], u.at(-1), v[0], v.at(-1)];
  if (zoom && small.length) {
    const pts = [...small.flatMap((run) => run.path), r.runs[0].path[0]];
    const lo = [0, 1].map((k) => Math.min(...pts.map((p) => p[k]))), hi = [0, 1].map((k) => Math.max(...pts.map((p) => p[k])));
    const pad = [0, 1].map((k) => Math.max(0.15 * (hi[k] - lo[k]), 1e-3 * extent));
    box = [lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1]];
  }
  const dpr = window.devicePixelRatio || 1, W = c.clientWidth || 600, H = Math.round(W * 0.72);
  c.width = Math.round(W * dpr); c.height = Math.round(H * dpr);
  const ctx = c.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const L = 22, R = 6, T = 6, B = 22, w = W - L - R, h = H - T - B;
  const px = (x) => L + ((x - box[0]) / (box[1] - box[0])) * w, py = (y) => T + (1 - (y - box[2]) / (box[3] - box[2])) * h;
  ctx.clearRect(0, 0, W, H);
  ctx.save();
  ctx.beginPath(); ctx.rect(L, T, w, h); ctx.clip();
  ctx.imageSmoothingEnabled = false;       // bands, as contours: not blurred into each other
  // the grid's points are cell centres: its picture reaches half a cell beyond them
  const du = (u.at(-1) - u[0]) / (u.length - 1) / 2, dv = (v.at(-1) - v[0]) / (v.length - 1) / 2;
  ctx.drawImage(plane(r.plane.costs), px(u[0] - du), py(v.at(-1) + dv), px(u.at(-1) + du) - px(u[0] - du), py(v[0] - dv) - py(v.at(-1) + dv));
  // the first run (full-batch GD: the short path by the start) drawn last, on top
  r.runs.map((run, i) => [run, i]).reverse().forEach(([run, i]) => {
    const pts = run.path.map(([a, b]) => [px(a), py(b)]);
    for (const [width, color] of [[4.5, "#fff"], [2, COLORS[i % COLORS.length]]]) {  // a white edge: seen on any band
      ctx.strokeStyle = color; ctx.lineWidth = width; ctx.lineJoin = "round";
      ctx.beginPath(); pts.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y))); ctx.stroke();
    }
    const [ex, ey] = pts.at(-1);              // where it ended: a square
    ctx.fillStyle = COLORS[i % COLORS.length]; ctx.strokeStyle = "#fff"; ctx.lineWidth = 1.5;
    ctx.fillRect(ex - 5, ey - 5, 10, 10); ctx.strokeRect(ex - 5, ey - 5, 10, 10);
  });
  const [sx, sy] = r.runs[0].path[0];          // the start, shared: a black dot ringed white
  ctx.fillStyle = "#000"; ctx.strokeStyle = "#fff"; ctx.lineWidth = 2;
  ctx.beginPath(); ctx.arc(px(sx), py(sy), 6, 0, 7); ctx.fill(); ctx.stroke();
  ctx.restore();
  ctx.fillStyle = "#5d6780"; ctx.font = "12px system-ui, sans-serif";
  const xl = `direction 1 (${fmt.pct(r.explained[0], 0)} of the spread)`;
  ctx.fillText(xl, L + (w - ctx.measureText(xl).width) / 2, H - 6);
  ctx.save(); ctx.translate(14, T + h / 2); ctx.rotate(-Math.PI / 2);
  const yl = `direction 2 (${fmt.pct(r.explained[1], 0)})`;
  ctx.fillText(yl, -ctx.measureText(yl).width / 2, 0); ctx.restore();
  c.dataset.paths = String(r.runs.length);
  c.dataset.grid = `${r.plane.costs.length}x${r.plane.costs[0].length}`;
  c.dataset.zoom = zoom && small.length ? "on" : "off";
  c.setAttribute("aria-label", `the paths of ${fmt.counted(r.runs.length, "run")} from one start, on the plane of their two main directions over the cost there (dark low, light high)` +
    (zoom && small.length ? ", magnified around the start" : "") + ": " +
    r.runs.map((run) => `${label(run)} took ${fmt.counted(run.steps.at(-1), "step")} to cost ${fmt.num(run.costs.at(-1))}`).join("; "));
  legend($("e-paths-legend"), [...r.runs.map((run, i) => [label(run), COLORS[i % COLORS.length]]),
    ["start", "#000", "dot"], ["end", "#5d6780", "end"]]);
}

// Where the table's eight columns do not fit (a phone), it turns: a column a run, a row a
// measure (a run's figures read down its column); style.css's phone width, and more: at
// 760 px the eight columns of four runs fit their card. Where even the turned table is too
// wide (four runs on a small phone), "tight" makes it smaller and lets its words break
const NARROW = window.matchMedia("(max-width: 760px)");

function facts() {
  const r = result;
  const measures = ["η", "steps", "examples", "training time", "final cost", "train accuracy",
    `examples to reach ${fmt.num(r.target_cost)}`];
  const runs = r.runs.map((run, i) => {
    const reach = r.reached[i];
    const key = el("span", { class: "key line" });
    key.style.borderBottomColor = COLORS[i % COLORS.length];
    // as the summary's (nudge.display.times): "1.2x fewer", "2.5x more", never "1x fewer" for 1.4
    const f = reach.fewer_examples, by = f >= 1 ? f : 1 / f;
    const fewer = f && by >= 1.05
      ? [" ", el("span", { class: "word", text: `(${by >= 10 ? by.toFixed(0) : Number(by.toPrecision(2))}x ${f >= 1 ? "fewer" : "more"})` })] : [];
    const when = reach.examples == null ? ["never"] : [fmt.int(reach.examples), ...fewer];
    // a word a span, kept whole: a narrow column breaks "full-batch GD" between words, not at its hyphen
    const words = run.label.split(" ").flatMap((w, k) => [k ? " " : null, el("span", { class: "word", text: w })]);
    return { name: [key, ...words], values: [fmt.sci(run.learning_rate), fmt.int(run.steps.at(-1)),
      fmt.int(run.examples.at(-1)), seconds(run.seconds.at(-1)), fmt.num(run.costs.at(-1)),
      fmt.pct(run.final_accuracy, 1), when] };
  });
  const num = (t) => el("td", { class: "num" }, ...[t].flat());
  const method = (run, scope) => el("th", { scope, class: "method" }, ...run.name);
  const table = NARROW.matches
    ? [el("tr", {}, el("th", { scope: "col", text: "method" }), ...runs.map((run) => method(run, "col"))),
      ...measures.map((m, k) => el("tr", {}, el("th", { scope: "row", text: m }), ...runs.map((run) => num(run.values[k]))))]
    : [el("tr", {}, el("th", { scope: "col", text: "method" }),
      ...measures.map((t) => el("th", { scope: "col", class: "num", text: t }))),
      ...runs.map((run) => el("tr", {}, method(run, "row"), ...run.values.map(num)))];
  const t = el("table", { class: `descent-table${NARROW.matches ? " turned" : ""}` },
    el("thead", {}, table[0]), el("tbody", {}, ...table.slice(1)));
  $("e-table").replaceChildren(t);
  if (t.scrollWidth > $("e-table").clientWidth) t.classList.add("tight");   // still too wide
  $("e-summary").textContent = r.summary;
}

const seconds = (s) => (s >= 1 ? `${s.toFixed(2)} s` : `${Number((1000 * s).toPrecision(2))} ms`);
