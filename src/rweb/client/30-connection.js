/* The connection: messages, the socket, heartbeat and reconnects.
 *
 * Restarts: a socket closed with 1012 (service restart: the server stops, and is expected
 * back) is retried every 100-250 ms until window.rwebConfig.restartBanner ms (2000; 0: at
 * once) passed, then with the usual backoff; the banner (and rweb:disconnected) only shows
 * if the page is not connected again by then. Clicks meanwhile are queued and marked
 * rweb-pending, as during any disconnection.
 */

  const STYLE =
    "#rweb-status{display:none}" +
    "html.rweb-disconnected #rweb-status{display:block;position:fixed;top:0;left:0;right:0;" +
    "padding:4px 8px;background:#b00020;color:#fff;font:14px sans-serif;text-align:center;z-index:2147483647}" +
    "#rweb-busy{display:none}" +
    "html.rweb-busy #rweb-busy{display:block;position:fixed;top:0;left:0;right:0;height:3px;z-index:2147483646;" +
    "pointer-events:none;background:linear-gradient(90deg,transparent,#29d 50%,transparent) no-repeat;" +
    "background-size:40% 100%;animation:rweb-busy 1.2s linear infinite}" +
    "@keyframes rweb-busy{from{background-position:-60% 0}to{background-position:160% 0}}";

  // ------------------------------------------------------------ messages

  function onMessage(ev) {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch (err) {
      console.warn("rweb: invalid message from the server", err);
      return;
    }
    if (!msg || typeof msg !== "object") return;
    // The reply to a navigation? Only the latest one scrolls and follows redirects.
    const nav = msg.ref != null ? navs.get(msg.ref) : undefined;
    let latest = false;
    if (nav !== undefined) {
      navs.delete(msg.ref);
      latest = msg.ref === navRef;
      if (latest) navRef = null;
      checkBusy();
    }
    let names = [];
    if (msg.t === T.INIT && appFailed) {
      location.reload(); // the app is back after a failed start: load it afresh
      return;
    }
    if (msg.e && msg.e.code === E.STALE_CLIENT) {
      staleReload(); // this script is not the server's: load the page afresh, typed fields kept
      return;
    }
    if (msg.t === T.INIT) {
      // A new page: the socket's first message, or another page mounted by a navigation.
      // A reconnect's init is morphed over what the user typed: keep it (see capture()).
      const rejoin = msg.ref == null && (msg.resumed === true || msg.fresh === true);
      // A page load's init: the fields kept through a stale client's reload go back in too.
      const saved = rejoin ? capture(msg) : msg.ref == null ? keptFields() : null;
      let restored = [];
      for (const k in comps) delete comps[k];
      applyPatches(msg.c || {});
      if (comps.root) {
        names = ["root"];
        keepFocus(() => {
          if (!render("root")) console.warn('rweb: no [data-rc="root"] element on the page');
          if (saved) restored = restore(saved);
        });
      }
      if (msg.ref == null) {
        connected = true;
        attempt = 0;
        current = joined;
        token = typeof msg.tok === "string" && msg.tok ? msg.tok : null;
        flashToken = null; // shown: a later join (a reconnect) does not show them again
        endQuiet();
        setDown(false);
        emit("rweb:connected", { msg });
        rejoined(msg, restored);
        if (saved && !rejoin) recover(true, restored);
      } else {
        // Another page: the latest navigation's reply shows its title and scrolls.
        navMounted = true;
        if (typeof msg.title === "string") navTitle = msg.title;
      }
      remark();
      emit("rweb:update", { components: names, msg });
    } else if (msg.t === T.REPLY || msg.t === T.PUSH) {
      if (msg.d && typeof msg.d === "object") {
        names = topmost(applyPatches(msg.d));
        // The reply to one of this page's actions, or a push (see holds()).
        const a = msg.t === T.REPLY && msg.ref != null ? acts.get(msg.ref) : undefined;
        applying = { a: a || null, ref: a ? msg.ref : null };
        try {
          update(names);
        } finally {
          applying = null;
        }
        if (names.length) remark();
      }
      emit("rweb:update", { components: names, msg });
    }
    if (msg.e) {
      console.warn("rweb:", msg.e.code, msg.e.message);
      emit("rweb:error", { code: msg.e.code, message: msg.e.message, ref: msg.ref, t: msg.t });
      showFault(msg.e);
    }
    syncHooks(names); // hooks are mounted before the message's events reach them
    const loads = runEffects(msg, nav, latest);
    if (Array.isArray(msg.fx) && msg.fx.length) syncHooks([]); // rows a stream added
    if (nav !== undefined) navigated(msg, nav, latest, loads);
    else if (msg.t === T.INIT && msg.ref == null && connected && !leaving && appUrl(location) !== joined) {
      // The browser moved on (back / forward) while this socket was joining.
      const url = appUrl(location);
      if (url !== null) navigate(url, "pop", location.hash);
    }
    if ((msg.t === T.REPLY || msg.t === T.INIT) && msg.ref != null) {
      const resolve = pending.get(msg.ref);
      if (resolve) {
        pending.delete(msg.ref);
        resolve(msg);
      } else if (msg.t === T.REPLY && acts.has(msg.ref)) {
        answered(msg.ref, msg);
      }
    }
  }

  // ------------------------------------------------------ the connection

  // The banner's and the busy bar's rules, in the cascade layer "rweb": the page's own
  // (unlayered) styles override them. A constructed stylesheet, not a <style> element, so
  // that a strict Content-Security-Policy (style-src 'self', no 'unsafe-inline') allows it.
  function installStyle() {
    const css = "@layer rweb{" + STYLE + "}";
    if (typeof CSSStyleSheet === "function" && "adoptedStyleSheets" in document) {
      if (document.adoptedStyleSheets.some((s) => s.__rweb)) return;
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      sheet.__rweb = true;
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
      return;
    }
    if (document.getElementById("rweb-style")) return; // an older browser: a <style> element
    const st = document.createElement("style");
    st.id = "rweb-style";
    st.textContent = css;
    const head = document.head || document.documentElement;
    head.insertBefore(st, head.firstChild);
  }

  function setDown(on) {
    const was = down;
    down = on;
    document.documentElement.classList.toggle("rweb-disconnected", on);
    let el = document.getElementById("rweb-status");
    if (!el && on && document.body) {
      el = document.createElement("div");
      el.id = "rweb-status";
      el.setAttribute("role", "status");
      el.setAttribute("aria-live", "polite");
      document.body.appendChild(el);
    }
    showStatus();
    if (on && !was) emit("rweb:disconnected", {});
  }

  // The banner's text: "Reconnecting… (2 pending)" while actions wait for the connection.
  function showStatus() {
    const el = document.getElementById("rweb-status");
    if (!el) return;
    let text = "";
    if (down) {
      text = stopped ? "Disconnected" : "Reconnecting\u2026";
      if (acts.size) text += " (" + acts.size + " pending)";
    }
    if (el.textContent !== text) el.textContent = text;
  }

  // The socket joins the page shown: its URL within the app rides in the `url` parameter;
  // a session to resume, its token in `tok`.
  function wsUrl() {
    config();
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    joined = appUrl(location) ?? "/";
    if (socketPath === null) {
      // No meta: legacy, the page's query is the socket's.
      const q = location.search.length > 1 ? location.search : "";
      const tok = token === null ? "" : (q ? "&" : "?") + "tok=" + encodeURIComponent(token);
      return scheme + "//" + location.host + "/ws" + q + tok + (q || tok ? "&" : "?") + "vsn=" + encodeURIComponent(VSN);
    }
    const u = new URL(socketPath, location.href);
    if (u.protocol === "http:" || u.protocol === "https:") u.protocol = scheme;
    u.searchParams.set("url", joined);
    if (token !== null) u.searchParams.set("tok", token);
    else u.searchParams.delete("tok");
    u.searchParams.set("vsn", VSN);
    // The first join only: the flash messages (signed) the first paint showed go on to the session.
    if (flashToken !== null) u.searchParams.set("flash", flashToken);
    else u.searchParams.delete("flash");
    return u.href;
  }

  function connect() {
    clearTimeout(timer);
    timer = null;
    if (sock || stopped) return;
    let s;
    try {
      s = new WebSocket(wsUrl());
    } catch (err) {
      console.warn("rweb: cannot open the WebSocket", err);
      onDown();
      return;
    }
    sock = s;
    heard = performance.now();
    pinged = 0;
    s.onmessage = (ev) => {
      if (sock !== s) return;
      heard = performance.now();
      pinged = 0;
      onMessage(ev);
    };
    s.onclose = (ev) => {
      if (sock !== s) return;
      sock = null;
      if (ev.code === CLOSE.SERVICE_RESTART && (connected || appFailed)) restarting();
      onDown();
    };
    s.onerror = () => { /* a close event follows */ };
    if (beat === null) beat = setInterval(heartbeat, Math.min(1000, HEARTBEAT_WAIT / 2));
  }

  // A socket that stays silent gets a ping; one that does not answer is dropped.
  function heartbeat() {
    const s = sock;
    if (!s || s.readyState !== WebSocket.OPEN) return;
    const now = performance.now();
    // Replies come in order: while an action is under way (a slow async
    // handler), the ping's answer waits behind it, so allow it much longer.
    const wait = acts.size || navs.size ? 4 * (HEARTBEAT + HEARTBEAT_WAIT) : HEARTBEAT_WAIT;
    if (pinged) {
      if (now - pinged > wait) {
        console.warn("rweb: the server stopped answering; reconnecting");
        sock = null; // its late events are ignored from now on
        try { s.close(CLOSE.NO_HEARTBEAT, "no heartbeat"); } catch { /* already closing */ }
        onDown();
      }
    } else if (now - heard > HEARTBEAT) {
      pinged = now;
      try {
        s.send(JSON.stringify({ t: T.PING, ref: "hb" + ++ref }));
      } catch { /* the close event follows */ }
    }
  }

  function onDown() {
    connected = false;
    navs.clear();
    checkBusy(); // nothing is under way on a lost socket: the banner shows instead
    navRef = null;
    navMounted = false;
    navTitle = null;
    const waiting = Array.from(pending.values());
    pending.clear();
    for (const resolve of waiting) resolve(null);
    if (token === null) {
      // No session to resume: the unanswered actions are lost, and so is typing not sent yet.
      for (const r of Array.from(acts.keys())) answered(r, null);
      for (const { id } of debounced.values()) clearTimeout(id);
      debounced.clear();
      for (const { id } of throttled.values()) clearTimeout(id);
      throttled.clear();
    } else {
      // They wait for the next socket's init; debounced input is queued when it fires.
      for (const a of acts.values()) mark(a);
    }
    if (unloading || leaving) return; // leaving the page: no banner, no reconnect
    if (quietUntil && !stopped && performance.now() < quietUntil) {
      // The server is restarting: its failed handshakes meanwhile show nothing either.
      if (quietTimer === null) quietTimer = setTimeout(quietOver, quietUntil - performance.now());
    } else {
      setDown(true);
    }
    if (!stopped) reconnectLater();
  }

  // The server runs another version of the client than this script (a deploy came between): its
  // protocol may not be this one. Keep the fields the user changed (keepFields()) and load the
  // page afresh, at most once per STALE_WAIT ms: during a rolling deploy the reloaded page may
  // reach a server of the other version, and then waits before it tries again.
  function staleReload() {
    if (leaving) return;
    keepFields();
    let wait = 0;
    try {
      const last = Number(sessionStorage.getItem("rweb:stale")) || 0;
      wait = Math.max(0, Math.min(STALE_WAIT, last + STALE_WAIT - Date.now()));
      sessionStorage.setItem("rweb:stale", String(Date.now() + wait));
    } catch {
      // no storage: no memory of the last reload either
    }
    leave(() => setTimeout(() => location.reload(), wait));
  }

  // The server closed the socket with 1012 (service restart): it is expected back soon, so
  // retry at once and often, and keep the banner off, for RESTART_BANNER ms. The actions clicked
  // meanwhile are queued and marked rweb-pending as during any disconnection.
  function restarting() {
    attempt = 0;
    restartRetry = true;
    quietUntil = performance.now() + RESTART_BANNER;
  }

  function quietOver() {
    quietTimer = null;
    quietUntil = 0;
    if (!connected && !unloading && !leaving) setDown(true);
  }

  function endQuiet() {
    clearTimeout(quietTimer);
    quietTimer = null;
    quietUntil = 0;
    restartRetry = false;
  }

  function reconnectLater() {
    clearTimeout(timer);
    let delay;
    if (restartRetry || performance.now() < quietUntil) {
      // The server restarts: tried every RESTART_RETRY ms until the banner's delay ends, so
      // that one back before then is found before then (the backoff's tries 1.45 s and 3.05 s
      // after the close would miss one back at 1.5 s), then with the backoff from its start.
      restartRetry = false;
      delay = RESTART_RETRY[0] + Math.random() * (RESTART_RETRY[1] - RESTART_RETRY[0]);
    } else {
      const base = Math.min(MAX_DELAY, MIN_DELAY * 2 ** attempt);
      delay = base / 2 + Math.random() * (base / 2);
      attempt++;
    }
    // Jitter: after a server restart, its clients come back spread out.
    timer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (sock || stopped || unloading || leaving) return;
    attempt = 0;
    connect();
  }

