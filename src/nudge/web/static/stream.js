// The live event stream from the server, kept open: the browser's EventSource reconnects
// by itself after a dropped connection; this also reopens it when the browser gives up
// (an error answer) or when the stream goes silent (the server pings every 5 s), and
// reloads the page's state when it comes back, above all after a server restart.  When the
// server refuses the stream because too many pages watch already, the page says so.
const SILENT_MS = 12000;      // no message or ping for this long: reopen the stream
const BANNER_AFTER_MS = 1500; // a short hiccup is not worth a banner

export function connect(store) {
  let es = null, lastSeen = performance.now(), retry = 1000, server = null, lostSince = null;
  let bannerTimer = null, full = false;
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
    full = false;
    store.connected = true;
  }

  function sayLost() {
    if (lostSince === null) return;
    say(full
      ? "Too many pages are watching the live training: the server serves no more for now. " +
        "This page keeps trying and catches up when one is closed (its buttons still work)."
      : "Lost the connection to the server (is nudge serve still running?); reconnecting…");
  }

  function lost() {
    if (lostSince !== null) return;
    lostSince = performance.now();
    store.connected = false;
    clearTimeout(bannerTimer);
    bannerTimer = setTimeout(sayLost, BANNER_AFTER_MS);
  }

  // why the stream was refused: EventSource does not tell, a HEAD of it does (429: full)
  function askWhy() {
    fetch("/api/train/stream", { method: "HEAD", cache: "no-store" }).then((r) => {
      full = r.status === 429;
      if (full) { clearTimeout(bannerTimer); sayLost(); }
    }, () => { full = false; });
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
      // the model in use changed elsewhere (another tab loaded one, took a hand step...):
      // reload the state, so that every view and the header show that model
      const changed = msg.model !== undefined && store.state &&
        (msg.model ? msg.model.version : null) !== (store.state.model ? store.state.model.version : null);
      store.emit("update", msg);
      if (changed) store.refresh();
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
