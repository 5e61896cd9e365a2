// 6. Models: which one is in use; save the one trained here; load saved ones.
import { api, el, fmt } from "./util.js";

let store;
const $ = (id) => document.getElementById(id);

export function init(s) {
  store = s;
  store.on("state", render);
  $("m-use-file").addEventListener("click", () => select("file"));
  $("m-use-page").addEventListener("click", () => select("page"));
  $("m-save-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const r = await api("/api/models/save", { name: $("m-name").value.trim() });
      message(r.message);
      store.refresh();
    } catch (err) { message(err.message, true); }
  });
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
    message(source === "file" ? "using the command-line model (a fresh copy)" : "using the model trained on this page");
    store.refresh();
  } catch (e) { message(e.message, true); }
}

async function load(name) {
  try {
    await api("/api/models/load", { name });
    message(`loaded ${name}`);
    store.refresh();
  } catch (e) { message(e.message, true); }
}

function render(st) {
  const m = st.model;
  const cur = $("m-current");
  if (!m) cur.replaceChildren(el("p", { class: "muted", text: "No model yet: train one on tab 1, or start nudge serve --model FILE." }));
  else cur.replaceChildren(el("dl", { class: "stats" },
    ...[["architecture", m.sizes.join("-")], ["from", m.label], ["parameters", fmt.int(m.n_parameters)],
      ["test accuracy", fmt.pct(m.test_accuracy)], ["activation", `${m.activation} / ${m.output}`], ["cost", m.cost]]
      .map(([k, v]) => el("div", {}, el("dt", { text: k }), el("dd", { text: v })))));
  const training = st.training && ["running", "paused", "stopping"].includes(st.training.state);
  $("m-use-file").disabled = !st.models.file || training;
  $("m-use-file").textContent = st.models.file ? `Use ${st.models.file}` : "No command-line model";
  $("m-use-page").disabled = !st.models.page || training;
  $("m-save").disabled = !st.saving || !st.models.page || training;
  $("m-save-help").textContent = st.saving
    ? "Saved as NAME.safetensors in the folder given to nudge serve --save-dir (the same format nudge train writes)."
    : "Saving is off: start the server with nudge serve --save-dir FOLDER to save models from this page.";
  const list = $("m-saved");
  if (!st.saved.length) list.replaceChildren(el("li", { class: "muted", text: st.saving ? "none yet" : "saving is off" }));
  else list.replaceChildren(...st.saved.map((name) => {
    const b = el("button", { type: "button", text: "Load" });
    b.disabled = training;
    b.addEventListener("click", () => load(name));
    return el("li", {}, el("span", { text: name }), b);
  }));
}
