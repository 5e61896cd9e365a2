// 7. Models: which one is in use; switch between the command-line, loaded and page models;
// save the one trained here; load saved ones (each listed with its architecture and accuracy).
import { api, el, fmt } from "./util.js";

let store;
const $ = (id) => document.getElementById(id);
const SOURCE_NAMES = { file: "the command-line model", saved: "the loaded model", page: "the model trained here" };

export function init(s) {
  store = s;
  store.on("state", render);
  $("m-save-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const r = await api("/api/models/save", { name: $("m-name").value.trim(), overwrite: $("m-overwrite").checked });
      $("m-overwrite").checked = false;          // asked for one save at a time
      message(r.message);
      store.refresh();
    } catch (err) { message(err.message, true); }
  });
  // a name the browser's own check refuses (the input's pattern) sends nothing: say so, or
  // the last save's "saved as ..." reads as this one's answer ("invalid" does not bubble)
  $("m-save-form").addEventListener("invalid", (e) => {
    message(`not saved: the name must be ${e.target.title || e.target.validationMessage}`, true);
  }, true);
}

export function show() { store.refresh(); }

function message(text, error = false) {
  const m = $("m-message");
  m.textContent = text;
  m.classList.toggle("error", error);
}

async function select(source) {
  try {
    await api("/api/models/select", { source });
    message(`using ${SOURCE_NAMES[source]}${source === "page" ? "" : " (a fresh copy)"}`);
    store.refresh();
  } catch (e) { message(e.message, true); }
}

async function load(name) {
  try {
    await api("/api/models/load", { name });
    // (said only where there is one: a page started without --model has none)
    const kept = store.state && store.state.models && store.state.models.file;
    message(`loaded ${name}` + (kept ? "; the command-line model is still available" : ""));
    store.refresh();
  } catch (e) { message(e.message, true); }
}

const what = (m, ds) => [m.sizes.join("-"), m.activation, fmt.accuracy(m, ds) || "accuracy not recorded",
  m.dataset].filter(Boolean).join(" · ");

function render(st) {
  const m = st.model;
  const cur = $("m-current");
  if (!m) cur.replaceChildren(el("p", { class: "muted", text: "No model yet: train one on tab 1, or start nudge serve --model FILE." }));
  else cur.replaceChildren(el("dl", { class: "facts" },
    ...[["architecture", m.sizes.join("-")], ["from", m.label], ["parameters", fmt.int(m.n_parameters)],
      ["test accuracy", fmt.accuracy(m, st.dataset) || "not recorded"], ["activation", `${m.activation} / ${m.output}`], ["cost", m.cost]]
      .map(([k, v]) => el("div", {}, el("dt", { text: k }), el("dd", { text: v })))));
  const training = st.training && ["running", "paused", "stopping"].includes(st.training.state);
  const models = st.models || {};
  const sources = Object.keys(SOURCE_NAMES).filter((k) => models[k]).map((k) => {
    const b = el("button", { type: "button", id: `m-use-${k}`, text: models.source === k ? "In use" : "Use" });
    b.disabled = training || models.source === k;
    b.setAttribute("aria-label", `use ${SOURCE_NAMES[k]}, ${models[k].label}`);
    b.addEventListener("click", () => select(k));
    return el("li", {}, el("span", {}, el("b", { text: models[k].label }), el("span", { class: "what", text: `${SOURCE_NAMES[k]} · ${what(models[k], st.dataset)}` })), b);
  });
  $("m-sources").replaceChildren(...(sources.length ? sources : [el("li", { class: "muted", text: "no models yet" })]));
  $("m-save").disabled = !st.saving || !models.page || training;
  $("m-save-help").textContent = st.saving
    ? "Saved as NAME.safetensors in the folder given to nudge serve --save-dir (the same format nudge train writes)."
    : "Saving is off: start the server with nudge serve --save-dir FOLDER to save models from this page.";
  const list = $("m-saved");
  const saved = st.saved_details || (st.saved || []).map((name) => ({ name }));
  if (!saved.length) list.replaceChildren(el("li", { class: "muted", text: st.saving ? "none yet" : "saving is off" }));
  else list.replaceChildren(...saved.map((s) => {
    const b = el("button", { type: "button", text: "Load", "aria-label": `load ${s.name}` });
    b.disabled = training || !!s.error;
    b.addEventListener("click", () => load(s.name));
    return el("li", {}, el("span", {}, el("b", { text: s.name }),
      el("span", { class: "what" + (s.error ? " error" : ""), text: s.error ? `cannot be read: ${s.error}` : what(s, st.dataset) })), b);
  }));
}
