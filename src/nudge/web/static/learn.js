// 1. Watch it learn: settings, controls (speed, one mini-batch at a time), the live stream.
import { api, el, fmt, lineChart, zoomedAxis, divergingRGB, bringIntoView, scrolls } from "./util.js";

let store;
let points = [];           // [examples seen, smoothed cost]
let training = null;       // the latest summary
let weights = null;        // first-layer weights (bytes) while training
let drawPending = false;
let eventsThisSecond = 0, eventsTotal = 0;
const $ = (id) => document.getElementById(id);
const ACTIVE = ["running", "paused", "stopping"];
// examples per second offered by the speed control ("" = full speed)
const SPEEDS = ["", 300000, 100000, 30000, 10000, 3000, 1000, 300, 100, 30, 10];
// the form's fields fixed while a run goes (η and the speed can be changed meanwhile)
const FIELDS = ["t-preset", "t-further", "t-hidden", "t-activation", "t-schedule", "t-min-lr",
  "t-decay", "t-batch", "t-epochs", "t-examples", "t-measure"];

export function init(s) {
  store = s;
  $("train-form").addEventListener("submit", (e) => { e.preventDefault(); start(); });
  $("t-pause").addEventListener("click", () => control("pause"));
  $("t-resume").addEventListener("click", () => control("resume"));
  $("t-step").addEventListener("click", () => control("step"));
  $("t-stop").addEventListener("click", () => control("stop"));
  $("t-reset").addEventListener("click", () => control("reset"));
  $("t-preset").addEventListener("change", applyPreset);
  $("t-further").addEventListener("change", () => {
    if (!$("t-further").checked) presetArchitecture();   // a new network again
    further();
  });
  $("t-schedule").addEventListener("change", buttons);
  $("t-batch").addEventListener("change", fillSpeeds);
  $("t-speed").addEventListener("change", changeSpeed);
  $("t-speed-info").addEventListener("click", () => {
    const open = $("t-speed-info").getAttribute("aria-expanded") !== "true";
    $("t-speed-info").setAttribute("aria-expanded", String(open));
    $("t-speed-help").hidden = !open;
  });
  STACKED.addEventListener("change", placeSpeed);
  $("t-lr").addEventListener("change", changeLearningRate);
  $("c-log").addEventListener("change", schedule);
  $("c-zoom").addEventListener("change", schedule);
  fillSpeeds();
  store.on("state", (st) => {
    if (!$("t-preset").options.length) fillChoices(st);
    if (st.training !== undefined && !isActive(training) && !older(st.training)) {
      training = st.training; schedule();
    }
  });
  store.on("state", (st) => further(st.model));
  store.on("model", further);
  store.on("update", onUpdate);
  store.on("restart", () => { points = []; weights = null; training = null; schedule(); });
  setInterval(() => { $("s-updates").textContent = eventsThisSecond; eventsThisSecond = 0; }, 1000);
  window.addEventListener("resize", () => schedule());
  buttons();
}

export function show() { schedule(); }

const isActive = (t) => !!t && ACTIVE.includes(t.state);
// Replies and the stream race each other: a summary of an earlier run (runs are numbered
// in order; a restarted server's numbers start again, but then the page starts afresh), or
// of the same run with a lower version, was taken earlier and must not replace the later
// one (an answer to /api/state asked while the run went must not make a finished run
// "running" again; nor a late speed, η or control reply).  Start's reply keeps anything the
// stream brought of its run, whatever the version (start(): it would clear the curve)
const older = (t) => !!(training && t && (t.run < training.run ||
  (t.run === training.run && t.version < training.version)));

function fillChoices(st) {
  const preset = $("t-preset");
  for (const [name, p] of Object.entries(st.presets)) {
    preset.append(el("option", { value: name, text: `${name}: ${p.sizes.join("-")}`, title: p.description }));
  }
  preset.append(el("option", { value: "custom", text: "custom" }));
  for (const a of st.activations) $("t-activation").append(el("option", { value: a, text: a }));
  for (const sc of st.schedules || ["constant", "cosine"]) $("t-schedule").append(el("option", { value: sc, text: sc }));
  applyPreset();
  if (st.dataset && st.dataset.n_train < 60000) {
    $("t-examples").replaceChildren(el("option", { value: String(st.dataset.n_train), text: `all ${fmt.int(st.dataset.n_train)}`, title: `all ${fmt.int(st.dataset.n_train)} ${st.dataset.name} training images` }));
  }
}

// a select's value set to v where it offers v (else it stays as it was)
const choose = (id, v) => { if ([...$(id).options].some((o) => o.value === String(v))) $(id).value = String(v); };

// The set-up's fields from a preset or a run's settings (``architecture``: the hidden
// layers and activation too)
function fillForm(s, architecture = true) {
  if (architecture) {
    $("t-hidden").value = s.sizes.slice(1, -1).join(",");
    choose("t-activation", s.activation);
  }
  choose("t-schedule", s.schedule || "constant");
  $("t-min-lr").value = s.min_learning_rate || 0;
  $("t-decay").value = s.weight_decay || 0;
  $("t-batch").value = s.batch_size ?? s.train_examples;
  $("t-epochs").value = s.epochs;
  fillSpeeds();
}

function applyPreset() {
  const name = $("t-preset").value;
  const p = store.state && store.state.presets[name];
  if (!p) return;
  fillForm(p, !$("t-further").checked);  // else the architecture is the model in use's
  $("t-lr").value = p.learning_rate;
  buttons();
}

// "Train the model in use further": offered while there is a model in use; ticked, the
// run keeps that model's architecture (its hidden layers and activation shown, fixed) and
// starts from its weights and biases (a copy: the model itself is kept as it was)
function further(model = store.state && store.state.model) {
  const box = $("t-further-box"), tick = $("t-further");
  box.hidden = !model;
  if (!model && tick.checked) {      // the model went (a reset): a new network, the preset's
    tick.checked = false;
    presetArchitecture();
  }
  if (model) {
    $("t-further-model").textContent = `${model.sizes.join("-")}, ${model.label || model.source}`
      + (model.test_accuracy != null ? ` (${fmt.pct(model.test_accuracy)})` : "");
  }
  if (tick.checked) {
    $("t-hidden").value = model.sizes.slice(1, -1).join(",");
    $("t-activation").value = model.activation;
  }
  buttons();
}

// the preset's hidden layers and activation back in the set-up (no longer the model's)
function presetArchitecture() {
  const p = store.state && store.state.presets[$("t-preset").value];
  if (p) { $("t-hidden").value = p.sizes.slice(1, -1).join(","); $("t-activation").value = p.activation; }
}

function fillSpeeds() {
  const sel = $("t-speed"), batch = Number($("t-batch").value) || 1;
  const keep = sel.value;
  sel.replaceChildren(...SPEEDS.filter((v) => v === "" || v >= batch).map((v) =>
    el("option", { value: String(v), text: v === "" ? "full speed" : `${fmt.int(v)} / s` })));
  sel.value = [...sel.options].some((o) => o.value === keep) ? keep : "";
}

// One message at a time, where the user looks: the set-up's (Start, η, Reset) under the
// form, the run's (its controls, the speed, its end) in the Live card beside its controls
function message(text, error = false, where = "t-message") {
  for (const id of ["t-message", "t-run-message"]) {
    $(id).textContent = id === where ? text : "";
    $(id).classList.toggle("error", id === where && error);
  }
}
const runMessage = (text, error = false) => message(text, error, "t-run-message");

function body() {
  const hiddenText = $("t-hidden").value.trim();
  const hidden = hiddenText ? hiddenText.split(",").map((s) => Number(s.trim())) : [];
  if (hidden.some((h) => !Number.isInteger(h) || h < 1)) {
    throw new Error("hidden layers: write whole numbers separated by commas, e.g. 16,16");
  }
  const b = {
    preset: $("t-preset").value, hidden, activation: $("t-activation").value,
    learning_rate: Number($("t-lr").value), schedule: $("t-schedule").value,
    weight_decay: Number($("t-decay").value), batch_size: Number($("t-batch").value),
    epochs: Number($("t-epochs").value), train_examples: Number($("t-examples").value),
  };
  if ($("t-further").checked) {          // the network is the model in use's
    b.start_from = "model"; delete b.hidden; delete b.activation;
  }
  if (b.schedule !== "constant") b.min_learning_rate = Number($("t-min-lr").value);
  if ($("t-speed").value) b.examples_per_second = Number($("t-speed").value);
  if ($("t-measure").checked) b.measure = true;
  return b;
}

async function start() {
  const at = scrolls();
  try {
    const r = await api("/api/train/start", body());
    // the stream may already have brought this run's later states (a short run may even
    // have ended before this reply arrived), or a later run's: keep them, not the reply
    if (!(training && r.training && training.run >= r.training.run)) {
      points = []; weights = null; training = r.training;
    }
    message(r.message);
    schedule();
    placeSpeed();         // now, not at the next frame: it moves the Live card on a phone
    // the live figures and the cost chart below them are what to watch now: a phone shows
    // them below the set-up, a laptop beside it, above the window of a user who scrolled
    // down to Start; they come into view (the page stays where they are in view already)
    bringIntoView($("live-card"), at);
    store.refresh();
  } catch (e) { message(e.message, true); }
}

async function changeSpeed() {
  if (!isActive(training)) return;
  const v = $("t-speed").value;
  try {
    const r = await api("/api/train/set", { examples_per_second: v ? Number(v) : null });
    if (!older(r.training)) training = r.training;
    runMessage(v ? `speed: at most ${fmt.int(Number(v))} examples a second` : "full speed");
    schedule();
  } catch (e) { runMessage(e.message, true); }
}

async function changeLearningRate() {
  if (!isActive(training)) return;
  const v = Number($("t-lr").value);
  if (!$("t-lr").value.trim() || !(v > 0)) { message("learning rate η: write a number above 0, e.g. 0.5", true); return; }
  try {
    const r = await api("/api/train/set", { learning_rate: v });
    if (!older(r.training)) training = r.training;
    message(`η set to ${fmt.sci(v)} for the rest of the run`);
    schedule();
  } catch (e) { message(e.message, true); }
}

async function control(what) {
  const say = what === "reset" ? message : runMessage;
  try {
    const was = training ? training.run : null;
    const r = await api(`/api/train/${what}`, {});
    if (what === "reset") {
      // the reply comes once the old run has stopped: the stream may have brought a run
      // started since (another tab), whose parts that seldom change it sends no more
      if (!training || training.run === was) { training = null; points = []; weights = null; }
      message("reset: the page's network is gone; start again whenever you like");
      store.refresh();
    } else {
      // the stream may have brought a later state already (after the step ran): keep it
      if (!older(r.training)) training = r.training;
      say({ pause: "paused", resume: "resumed", step: "one mini-batch step (paused)",
        stop: "stopped: the network keeps what it learned" }[what]);
    }
    schedule();
  } catch (e) { say(e.message, true); }
}

function onUpdate(msg) {
  eventsThisSecond++;
  $("s-updates").dataset.total = ++eventsTotal;
  const wasActive = isActive(training);
  const wasState = training ? training.state : null;
  if (msg.model !== undefined) store.modelInfo(msg.model);
  if (msg.training === null) { training = null; points = []; weights = null; schedule(); return; }
  const t = merged(msg);
  if (!t) return;
  if (msg.replace) points = [];
  points.push(...msg.points);
  training = t;
  if (msg.weights) weights = { ...msg.weights, side: msg.image_side };
  if (wasActive && !isActive(training)) runMessage(training.message, training.state === "failed");
  if (training && training.state !== wasState) {
    // a new run, or one that ended (also one that began and ended between two updates):
    // the models and the header change with it; once more a moment later, for what the
    // server records just after the run's end
    store.refresh();
    if (!isActive(training)) setTimeout(() => store.refresh(), 500);
  }
  schedule();
}

// The stream sends a run's parts that seldom change (its settings, warnings...) only when
// they change, and its lists (epoch results, measurements) as their items from an index
// (msg.from): the run's summary is the last one with what this update brings.  Null for
// an update the page cannot complete: of an earlier run (a late one), or of a run whose
// whole the page no longer has (it read the whole run again instead)
function merged(msg) {
  const t = msg.training, before = training;
  if (msg.replace) return t;
  if (before && t.run < before.run) return null;
  if (!before || before.run !== t.run) { wholeAgain(); return null; }
  const full = { ...before, ...t };
  for (const [key, from] of Object.entries(msg.from || {})) full[key] = (before[key] || []).slice(0, from).concat(t[key]);
  return full;
}

let rereading = false;
function wholeAgain() {
  if (rereading) return;
  rereading = true;
  api("/api/train/state?live=1").then((m) => { rereading = false; onUpdate(m); },
    () => { rereading = false; });
}

function schedule() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => { drawPending = false; render(); });
}

// Where style.css stacks the set-up above the Live card (up to 1000 px wide: a phone, a
// tablet), Speed stands before Start till a run starts, to be set with the rest of the
// set-up and not below Start; while a run goes, and always where the set-up stands beside
// the Live card (a laptop), in the Live card's title row with the run's other controls
const STACKED = window.matchMedia("(max-width: 1000px)");
function placeSpeed() {
  const box = $("t-speed-box"), help = $("t-speed-help");
  const inForm = STACKED.matches && !isActive(training);
  if (inForm === $("train-form").contains(box)) return;
  const focused = box.contains(document.activeElement) ? document.activeElement : null;
  if (inForm) $("t-start").parentElement.before(box, help);
  else { $("t-run-controls").append(box); $("t-live-head").after(help); }
  focused?.focus();
}

function buttons() {
  placeSpeed();
  const st = training ? training.state : "idle";
  const active = ACTIVE.includes(st);
  $("t-start").disabled = active;
  $("t-pause").disabled = st !== "running";
  $("t-resume").disabled = st !== "paused";
  $("t-step").disabled = !(st === "running" || st === "paused");
  $("t-stop").disabled = !active;
  $("t-reset").disabled = !training;
  for (const id of FIELDS) $(id).disabled = active;
  $("t-min-lr").disabled = active || $("t-schedule").value === "constant";
  for (const id of ["t-hidden", "t-activation"]) $(id).disabled = active || $("t-further").checked;
}

// as nudge.display.epochs_done: a run stopped in an epoch counts it, so say it was cut short
function epochsDone(n, partial) {
  if (!partial) return fmt.counted(n, "epoch");
  return n === 1 ? "part of an epoch" : `less than ${fmt.counted(n, "epoch")}`;
}

function recipe(t) {
  const s = t.settings;
  const eta = s.schedule === "cosine"
    ? `η ${fmt.sci(s.learning_rate)} decaying (cosine) to ${fmt.sci(s.min_learning_rate)} over ${s.epochs} epochs`
    : `η ${fmt.sci(s.learning_rate)}, constant`;
  // η changed while it runs: the recipe said the start's η and schedule still held
  const set = t.learning_rate_override != null ? `, then set to ${fmt.sci(t.learning_rate_override)} by hand` : "";
  const parts = [`${s.sizes.join("-")} ${s.activation}/${s.output}, ${s.cost} cost`, eta + set,
    `weight decay ${s.weight_decay ? fmt.sci(s.weight_decay) : "none"}`,
    `batch size ${s.batch_size ?? "all"}`, `${fmt.int(s.train_examples)} images`];
  const from = s.started_from;
  if (from) {
    // the page's own model is named by a phrase ("trained on this page"), a file by its name
    const what = from.model === "trained on this page" ? `the model ${from.model}` : from.model;
    parts.splice(1, 0, `trained further from ${what}` + (from.epochs != null
      ? ` (${epochsDone(from.epochs, from.partial)} before)` : ""));
  }
  if (t.engine && t.engine.engine) parts.push(`engine: ${t.engine.engine}${t.engine.kernel_isa ? ` (${t.engine.kernel_isa})` : ""}`);
  return parts.join(" · ");
}

function warnings(t) {
  const box = $("t-warnings");
  const list = t ? t.warnings || [] : [];
  // a warning is added, or one says it has since passed (a run that got going after all)
  const key = `${list.length}/${list.filter((w) => w.since).length}`;
  if (box.dataset.n === key) return;
  box.dataset.n = key;
  box.replaceChildren(...list.map((w) => el("div", { class: w.since ? "warning passed" : "warning", "data-kind": w.kind },
    el("b", { text: "Warning: " }), `${w.text} `, el("span", { text: `What to try: ${w.advice}` }),
    w.since ? el("span", { class: "since", text: ` ${w.since}` }) : null)));
}

// A run this page did not start (a reload, a second tab) showed the preset's defaults in
// the set-up, fixed while it runs (Epochs 30 beside "Epoch 1 / 2"): the set-up shows the
// run's settings once per run, and η as the run has it (set in another tab too), unless
// the η field is being edited
let formRun = null, formEta = null;
function formFrom(t) {
  if (!isActive(t)) return;
  const s = t.settings;
  const eta = t.learning_rate_override ?? s.learning_rate;
  if (formRun !== t.run) {
    formRun = t.run; formEta = null;
    choose("t-preset", s.preset);
    choose("t-examples", s.train_examples);
    $("t-measure").checked = !!s.measure;
    fillForm(s);
  }
  if (eta !== formEta && document.activeElement !== $("t-lr")) { $("t-lr").value = eta; formEta = eta; }
}

function render() {
  const t = training;
  formFrom(t);
  buttons();
  $("s-state").textContent = t ? t.state : "idle";
  $("s-epoch").textContent = t ? `${t.epoch} / ${t.epochs}` : "–";
  $("s-seen").textContent = t ? fmt.int(t.seen) : "–";
  $("s-rate").textContent = t && t.state === "running" ? fmt.int(t.examples_per_second) : "–";
  $("s-cost").textContent = t ? fmt.sig(t.smoothed_cost, 4) : "–";
  $("s-acc").textContent = t ? fmt.pct(t.test_accuracy) : "–";
  $("s-lr").textContent = t ? fmt.sci(t.learning_rate, 3) + (t.learning_rate_override != null ? " (set)" : "") : "–";
  $("s-recipe").textContent = t ? recipe(t) : "–";
  const pct = t ? (100 * t.seen) / Math.max(1, t.total_examples) : 0;
  $("s-progress").style.width = `${pct}%`;
  $("s-progress").parentElement.setAttribute("aria-valuenow", pct.toFixed(0));
  if (t && isActive(t)) $("t-speed").value = t.speed == null ? "" : String(t.speed);
  warnings(t);
  if (store.current !== "learn") return;
  charts(t);
  insight(t);
  drawWeights();
}

function insight(t) {
  const pts = t && t.insight ? t.insight : [];
  const card = $("insight-card");
  card.hidden = !(t && t.settings.measure);
  if (card.hidden) return;
  const opts = { xmin: 0, xmax: t.total_examples, log: true, xfmt: fmt.short, xlabel: "examples seen", empty: "measuring…" };
  lineChart($("sharp-chart"), [
    { points: pts.filter((p) => p.lambda_max).map((p) => [p.seen, p.lambda_max]), color: "#2f5fe0", dots: true, line: true },
    { points: pts.map((p) => [p.seen, p.two_over_eta]), color: "#b45309", dots: true, line: true },
  ], opts);
  lineChart($("noise-chart"), [
    { points: pts.filter((p) => p.b_simple).map((p) => [p.seen, p.b_simple]), color: "#2f5fe0", dots: true, line: true },
    { points: pts.map((p) => [p.seen, p.batch_size]), color: "#b45309", dots: true, line: true },
  ], opts);
  $("sharp-chart").dataset.points = pts.length;
  const last = pts[pts.length - 1];
  if (!last) { $("insight-now").textContent = "the first measurement comes after a few seconds"; return; }
  const stable = last.lambda_max < last.two_over_eta;
  const now = `after ${fmt.int(last.seen)} examples: λmax ${fmt.sig(last.lambda_max, 3)} ${stable ? "<" : "≥"} 2/η = ${fmt.sig(last.two_over_eta, 3)}` +
    ` (${stable ? "below the edge of stability" : "at or past the edge of stability: steps overshoot along the sharpest direction"}); ` +
    `B_simple ${fmt.sig(last.b_simple, 3)} against batch size ${last.batch_size}`;
  $("insight-now").textContent = now;
  $("sharp-chart").setAttribute("aria-label", `sharpness over training: ${now}`);
  $("noise-chart").setAttribute("aria-label", `noise scale over training: B_simple ${fmt.sig(last.b_simple, 3)}, batch size ${last.batch_size}`);
}

function charts(t) {
  const epochs = t ? t.epoch_results : [];
  const total = t ? t.total_examples : 1;
  const log = $("c-log").checked;
  const tests = epochs.filter((e) => e.test_cost != null).map((e) => [e.examples, e.test_cost]);
  // the x axis runs to the end of the epoch under way (a run's end: as far as it went):
  // on an axis of the whole run, a run slowed down to watch drew its first minutes as a
  // line at 0 (1,000 a second: 30 epochs of 60,000 take 30 minutes)
  const perEpoch = t ? total / Math.max(1, t.epochs) : 1;
  const xmax = !t ? 1 : isActive(t) ? Math.min(total, Math.max(1, t.epoch) * perEpoch)
    : Math.max(1, t.seen, ...points.slice(-1).map((p) => p[0]));
  lineChart($("cost-chart"), [
    { points, color: "#2f5fe0" },
    { points: tests, color: "#b45309", dots: true },
  ], { xmin: 0, xmax, ymin: log ? null : 0, log, xfmt: fmt.short, xlabel: "examples seen",
    empty: "press Start to train" });
  const last = points.length ? points[points.length - 1] : null;
  $("cost-chart").setAttribute("aria-label", last
    ? `cost curve (${log ? "log" : "linear"} scale): smoothed mini-batch cost ${fmt.sig(last[1], 3)} after ${fmt.int(last[0])} examples, from ${fmt.sig(points[0][1], 3)} at the start`
    : "cost curve: no data yet");
  $("cost-chart").dataset.points = points.length;
  $("cost-chart").dataset.scale = log ? "log" : "linear";
  // an epoch cut short by a stop is drawn where it stopped (epoch 1 after 8,280 of 60,000: 0.14)
  const accs = epochs.filter((e) => e.test_accuracy != null)
    .map((e) => [e.complete === false ? e.examples / perEpoch : e.epoch, e.test_accuracy]);
  const { ymin, ymax, ysteps, digits } = $("c-zoom").checked && accs.length
    ? zoomedAxis(accs.map((a) => a[1])) : { ymin: 0, ymax: 1, ysteps: 4, digits: 0 };
  lineChart($("acc-chart"), [{ points: accs, color: "#15803d", dots: true, line: true }],
    { xmin: 0, xmax: t ? t.epochs : 1, ymin, ymax, ysteps, yfmt: (y) => `${(100 * y).toFixed(digits)}%`,
      xlabel: "epoch", integerX: true, empty: "after the first epoch" });
  $("acc-chart").dataset.ymin = ymin.toFixed(3);
  $("acc-chart").setAttribute("aria-label", accs.length
    ? `test accuracy per epoch, axis from ${fmt.pct(ymin, 1)} to ${fmt.pct(ymax, 1)}: ${accs.map(([e, a]) => `epoch ${Number.isInteger(e) ? e : fmt.sig(e, 2)} ${fmt.pct(a)}`).slice(-5).join(", ")}`
    : "test accuracy per epoch: no data yet");
}

function drawWeights() {
  const grid = $("weights-grid");
  if (!weights || !weights.side) {
    // a run just started (its first pictures come with the stream's next update): the last
    // run's stay till then, so that the card keeps its height (the page's end, where the
    // user may be, would jump up and back)
    if (isActive(training) && !grid.dataset.empty && grid.children.length) return;
    if (!grid.dataset.empty) { grid.replaceChildren(el("p", { class: "muted", text: "start training to see them" })); grid.dataset.empty = "1"; }
    return;
  }
  const [n, size] = weights.shape, side = weights.side;
  $("w-inputs").textContent = fmt.int(size);
  if (grid.dataset.empty || grid.children.length !== n) {
    delete grid.dataset.empty;
    grid.replaceChildren(...Array.from({ length: n }, (_, i) => el("figure", {},
      el("canvas", { class: "pixel", width: side, height: side, role: "img", "aria-label": `incoming weights of hidden neuron ${i}, as a ${side} by ${side} picture` }),
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
