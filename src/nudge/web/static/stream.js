// The live event stream from the server, kept open: the browser's EventSource reconnects
// by itself after a dropped connection; this also reopens it when the browser gives up
// (an error answer) or when the stream goes silent (the server pings every 5 s), and
// reloads the page's state when it comes back, above all after a server restart.  When the
// server refuses the stream because too many pages watch already, the page says so, and
// reads the run's state every few seconds meanwhile, so that it follows the run, slower.
const SILENT_MS = 12000;      // no message or ping for this long: reopen the stream
const BANNER_AFTER_MS = 1500; // a short hiccup is not worth a banner
const REFUSED_POLL_MS = 3000; // refused a stream: the run's state read this often instead

export function connect(store) {
  let es = null, lastSeen = performance.now(), retry = 1000, server = null, lostSince = null;
  let bannerTimer = null, full = false, pollTimer = null;
  const banner = document.getElementById("connection");

  function say(text) {
    if (!banner) return;
    banner.textContent = text;
    banner.hidden = !text;
  }

  function alive(serverId) {
    lastSeen = performance.now();
    retry = 1000;
    if (serverId && server && serverId !== server) {
      store.emit("restart", serverId);
      store.refresh();
      say("The server restarted: the page has reloaded its state.");
      clearTimeout(bannerTimer);
      bannerTimer = setTimeout(() => say(""), 6000);
    } else if (lostSince !== null) {
      store.refresh();
      clearTimeout(bannerTimer);
      say("");
    }
    if (serverId) server = serverId;
    lostSince = null;
    refused(false);
    store.connected = true;
  }

  // an update (from the stream, or read while refused one) to the views
  function deliver(msg) {
    // the model in use changed elsewhere (another tab loaded one, took a hand step...):
    // reload the state, so that every view and the header show that model
    const changed = msg.model !== undefined && store.state &&
      (msg.model ? msg.model.version : null) !== (store.state.model ? store.state.model.version : null);
    store.emit("update", msg);
    if (changed) store.refresh();
  }

  // too many pages watch: while refused, the whole run read every few seconds
  function refused(yes) {
    full = yes;
    if (!yes) { clearInterval(pollTimer); pollTimer = null; return; }
    if (pollTimer) return;
    const poll = () => fetch("/api/train/state?live=1", { cache: "no-store" })
      .then((r) => (r.ok ? r.json() : null))
      .then((msg) => { if (msg && full) deliver(msg); }, () => {});
    poll();
    pollTimer = setInterval(poll, REFUSED_POLL_MS);
  }

  function sayLost() {
    if (lostSince === null) return;
    say(full
      ? "Too many pages are watching the live training: the server serves no more for now. " +
        "This page reads the run every few seconds meanwhile, keeps trying, and catches up " +
        "when one is closed (its buttons still work)."
      : "Lost the connection to the server (is nudge serve still running?); reconnecting…");
  }

  function lost() {
    if (lostSince !== null) return;
    lostSince = performance.now();
    store.connected = false;
    clearTimeout(bannerTimer);
    bannerTimer = setTimeout(sayLost, BANNER_AFTER_MS);
  }

  // why the stream was refused: EventSource does not tell, a HEAD of it does (429: full);
  // an answer that comes after a stream was granted is out of date
  function askWhy() {
    fetch("/api/train/stream", { method: "HEAD", cache: "no-store" }).then((r) => {
      if (lostSince === null) return;
      refused(r.status === 429);
      if (full) { clearTimeout(bannerTimer); sayLost(); }
    }, () => refused(false));
  }

  function reopenLater() {
    if (es) es.close();
    es = null;
    setTimeout(open, retry);
    retry = Math.min(10000, retry * 2);
  }

  function open() {
    lastSeen = performance.now();
    es = new EventSource("/api/train/stream");
    es.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      alive(msg.server);
      deliver(msg);
    };
    es.addEventListener("ping", (ev) => alive(JSON.parse(ev.data).server));
    es.onerror = () => {
      lost();
      if (es && es.readyState === EventSource.CLOSED) { askWhy(); reopenLater(); }
    };
  }

  setInterval(() => {
    if (es && performance.now() - lastSeen > SILENT_MS) { lost(); reopenLater(); }
  }, 2000);
  store.on("state", (st) => { if (st && st.server && !server) server = st.server; });
  open();
}
