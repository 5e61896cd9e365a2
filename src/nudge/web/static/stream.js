// The live event stream from the server, kept open: the browser's EventSource reconnects
// by itself after a dropped connection; this also reopens it when the browser gives up
// (an error answer) or when the stream goes silent (the server pings every 5 s), and
// reloads the page's state when it comes back, above all after a server restart.
const SILENT_MS = 12000;      // no message or ping for this long: reopen the stream
const BANNER_AFTER_MS = 1500; // a short hiccup is not worth a banner

export function connect(store) {
  let es = null, lastSeen = performance.now(), retry = 1000, server = null, lostSince = null;
  let bannerTimer = null;
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
    store.connected = true;
  }

  function lost() {
    if (lostSince !== null) return;
    lostSince = performance.now();
    store.connected = false;
    clearTimeout(bannerTimer);
    bannerTimer = setTimeout(() => {
      if (lostSince !== null) say("Lost the connection to the server (is nudge serve still running?); reconnecting…");
    }, BANNER_AFTER_MS);
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
      if (es && es.readyState === EventSource.CLOSED) reopenLater();
    };
  }

  setInterval(() => {
    if (es && performance.now() - lastSeen > SILENT_MS) { lost(); reopenLater(); }
  }, 2000);
  store.on("state", (st) => { if (st && st.server && !server) server = st.server; });
  open();
}
