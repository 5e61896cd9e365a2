// The page: tabs, the shared store, the live stream, and the eight views.
import { api, toast, fmt } from "./util.js";
import { connect } from "./stream.js";
import * as learn from "./learn.js";
import * as draw from "./draw.js";
import * as inside from "./inside.js";
import * as nudges from "./nudges.js";
import * as mistakes from "./mistakes.js";
import * as sensitivity from "./sensitivity.js";
import * as descent from "./descent.js";
import * as models from "./models.js";

const VIEWS = { learn, draw, inside, nudges, mistakes, sensitivity, descent, models };

const listeners = {};
const refreshes = { asked: 0, shown: 0 };      // answers to /api/state may come out of order
export const store = {
  state: null,          // the server's /api/state
  drawing: null,        // the canvas as a PNG data URL, or null when blank
  current: null,        // the view shown
  connected: true,
  on(event, fn) { (listeners[event] ||= []).push(fn); },
  emit(event, data) { for (const fn of listeners[event] || []) fn(data); },
  async refresh() {
    const asked = ++refreshes.asked;
    try {
      const st = await api("/api/state");
      if (asked < refreshes.shown) return store.state;   // a later answer came first: keep it
      refreshes.shown = asked;
      store.state = st;
      store.emit("state", store.state);
    } catch (e) {
      toast(e.message);
    }
    return store.state;
  },
  modelInfo(model) {
    if (model === undefined) return;
    store.state = { ...(store.state || {}), model };
    store.emit("model", model);
  },
  show: (name) => show(name),
};

function badge(model) {
  const b = document.getElementById("model-badge");
  if (!model) { b.textContent = "no model yet: train one on tab 1"; return; }
  const acc = model.test_accuracy != null ? ` · ${fmt.accuracy(model, store.state && store.state.dataset)}` : "";
  const live = model.training ? " · training" : "";
  b.replaceChildren(`${model.sizes.join("-")} · ${model.label}${acc}${live}`);
  const m = model.modified;
  if (m) {
    const s = document.createElement("span");
    s.className = "modified";
    s.textContent = ` · modified by hand (${fmt.counted(m.steps, "step")}): ` +
      `${fmt.pct(m.accuracy_now, 1)} on the first ${fmt.int(m.examples)} test images, was ${fmt.pct(m.accuracy_before, 1)}`;
    b.append(s);
  }
}
store.on("state", (s) => badge(s.model));
store.on("model", badge);

const tabs = [...document.querySelectorAll('[role="tab"]')];

function show(name, focus = false) {
  if (!VIEWS[name]) name = "learn";
  for (const t of tabs) {
    const on = t.dataset.view === name;
    t.setAttribute("aria-selected", on ? "true" : "false");
    t.tabIndex = on ? 0 : -1;
    document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
    if (on && focus) t.focus();
    if (on) inSight(t);
  }
  store.current = name;
  if (location.hash !== "#" + name) history.replaceState(null, "", "#" + name);
  VIEWS[name].show?.();
}

// a phone's tab strip scrolls sideways: the selected tab is brought into it (sideways
// only: the page stays where it is)
function inSight(tab) {
  const strip = tab.parentElement, t = tab.getBoundingClientRect(), s = strip.getBoundingClientRect();
  const gap = 16;                          // clear of the strip's edge, not flush with it
  if (t.left < s.left) strip.scrollLeft -= Math.ceil(s.left - t.left + gap);
  else if (t.right > s.right) strip.scrollLeft += Math.ceil(t.right - s.right + gap);
}

tabs.forEach((t, i) => {
  t.addEventListener("click", () => show(t.dataset.view));
  t.addEventListener("keydown", (e) => {
    let j = null;
    if (e.key === "ArrowRight") j = (i + 1) % tabs.length;
    else if (e.key === "ArrowLeft") j = (i - 1 + tabs.length) % tabs.length;
    else if (e.key === "Home") j = 0;
    else if (e.key === "End") j = tabs.length - 1;
    if (j !== null) { e.preventDefault(); show(tabs[j].dataset.view, true); }
  });
});
window.addEventListener("hashchange", () => show(location.hash.slice(1)));

for (const v of Object.values(VIEWS)) v.init(store);
store.refresh().then(() => { show(location.hash.slice(1) || "learn"); connect(store); });
