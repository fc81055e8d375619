/* Live navigation.
 *
 *   <a href data-navigate> a plain left click shows the link's page without a reload: the
 *                          history gets a new entry and the server mounts that page on this
 *                          socket (or patches this one); data-navigate="replace" replaces the
 *                          entry. Modified clicks, target="_blank", other origins and links
 *                          while disconnected are left to the browser. Back / forward between
 *                          such entries navigate live too.
 */

  // A navigation's reply was applied. The latest one's shows in the address bar
  // (the history entry is pushed now, not before: a page that turns out to be a
  // plain page or a redirect is then loaded with a clean history), sets the
  // title and scrolls; a failure leaves no page on the socket: load it for real.
  function navigated(msg, nav, latest, loads) {
    let kind;
    if (loads) kind = "load";
    else if (msg.e) kind = "error";
    else kind = msg.t === T.INIT ? "mount" : "patch";
    if (latest) {
      const mounted = navMounted, title = navTitle;
      navMounted = false;
      navTitle = null;
      if (kind === "error" && fatal(msg)) {
        kind = "load";
        load(root + nav.url + nav.hash, nav);
      } else if (kind !== "load") {
        showUrl(nav);
        if (title !== null) document.title = title;
        scrollAfter(nav, mounted);
      }
    }
    emit("rweb:navigate", { url: nav.url, kind, ref: msg.ref, current: latest, msg });
  }

  // The history entry of a navigation the server answered.
  function showUrl(nav) {
    current = nav.url;
    if (nav.mode === "pop") return; // the browser already shows it
    const full = root + nav.url + nav.hash;
    if (nav.mode === "push" && full !== location.pathname + location.search + location.hash) {
      saveScroll(nav.from);
      history.pushState(null, "", full);
    } else {
      history.replaceState(null, "", full);
    }
  }

  // An error in a navigation's reply that leaves no page on the socket (the old
  // session ended, the new one could not be mounted).
  const fatal = (msg) =>
    msg.t === T.INIT ||
    msg.e.code === E.SETUP_ERROR ||
    msg.e.code === E.NOT_FOUND ||
    ((msg.e.code === E.RENDER_ERROR || msg.e.code === E.SHARED_STATE) && !(msg.d && Object.keys(msg.d).length));

  function scrollAfter(nav, mounted) {
    if (nav.scroll) {
      window.scrollTo(nav.scroll[0], nav.scroll[1]); // back / forward: where the page was
      return;
    }
    if (nav.hash.length > 1) {
      let id = nav.hash.slice(1);
      try { id = decodeURIComponent(id); } catch { /* keep it as is */ }
      const el = document.getElementById(id);
      if (el) {
        el.scrollIntoView();
        return;
      }
    }
    if (mounted) window.scrollTo(0, 0);
  }

  // ---------------------------------------------------------- navigation

  function config() {
    if (root !== null) return;
    const meta = (name) => {
      const m = document.querySelector('meta[name="' + name + '"]');
      return m ? m.getAttribute("content") : null;
    };
    root = (meta("rweb-root") || "").replace(/\/+$/, "");
    socketPath = meta("rweb-socket");
    flashToken = meta("rweb-flash");
  }

  // A path on this site: "/x", never "//host" or "/\host".
  // A path of this site: the server's rule (rweb.http.is_local_path), never //host, nor a
  // backslash or a control character anywhere (browsers read /\\host and /<tab>/host as //host).
  const isLocal = (url) => typeof url === "string" && /^\/(?!\/)[^\x00-\x1f\x7f\\]*$/.test(url);

  // The URLs in effects are paths within the app: the root path goes in front
  // (unless it is there already, as the server does for a Redirect's Location).
  function rooted(path) {
    config();
    return !root || path === root || path.startsWith(root + "/") ? path : root + path;
  }

  // The URL within the app (path and query, without the root path or the hash) of a
  // same-origin URL or of `location`; null when it is outside the app's root path.
  function appUrl(u) {
    config();
    let path = u.pathname;
    if (root) {
      if (path === root) path = "/";
      else if (path.startsWith(root + "/")) path = path.slice(root.length);
      else return null;
    }
    return path + u.search;
  }

  const live = () => connected && sock !== null && sock.readyState === WebSocket.OPEN;

  // Remember where the page was scrolled (`at`: [x, y]), for back / forward.
  function saveScroll(at) {
    const st = history.state;
    const state = st && typeof st === "object" && !Array.isArray(st) ? { ...st } : {};
    state.rwebScroll = at;
    try {
      history.replaceState(state, "");
    } catch { /* not cloneable: no scroll restoration */ }
  }

  function savedScroll() {
    const st = history.state, s = st && st.rwebScroll;
    return Array.isArray(s) && s.length === 2 ? s : null;
  }

  // Show the app's `url` (path and query) without a reload. Once the server
  // answered, "push" and "replace" update the history, "pop" (back / forward:
  // the browser already shows the URL) does not. `hash` is kept in the address
  // bar. Resolves with the server's reply, or null.
  function navigate(url, mode, hash) {
    hash = hash || "";
    config();
    if (!live()) {
      // Not connected: a real page load does the same; after back / forward while
      // reconnecting, the join asks for the URL shown.
      if (mode !== "pop") location.assign(root + url + hash);
      else if (stopped) location.reload();
      return Promise.resolve(null);
    }
    // What the user typed before leaving reaches the page it was typed in.
    for (const key of [...debounced.keys(), ...throttled.keys()]) flushHeld(key);
    const r = ++ref;
    navRef = r;
    navs.set(r, {
      url,
      mode,
      hash,
      from: [window.scrollX, window.scrollY], // where the page being left was
      scroll: mode === "pop" ? savedScroll() : null, // where the page shown now was left
      at: performance.now(),
    });
    return new Promise((resolve) => {
      pending.set(r, resolve);
      try {
        sock.send(JSON.stringify({ t: T.NAV, url, ref: r }));
        checkBusy();
      } catch {
        pending.delete(r);
        navs.delete(r);
        resolve(null);
      }
    });
  }

  // `url`: an app URL, possibly with a #hash.
  function navTo(url, mode) {
    const i = url.indexOf("#");
    return i < 0 ? navigate(url, mode, "") : navigate(url.slice(0, i), mode, url.slice(i));
  }

  function onNavClick(e) {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const t = elementOf(e.target), a = t && t.closest("a[data-navigate]");
    if (!a || a.hasAttribute("download")) return;
    const target = (a.getAttribute("target") || "").trim().toLowerCase();
    if (target && target !== "_self") return;
    const href = a.getAttribute("href");
    if (href === null) return;
    let u;
    try {
      u = new URL(href, document.baseURI);
    } catch {
      return;
    }
    if (u.origin !== location.origin) return;
    const url = appUrl(u);
    if (url === null) return; // outside the app
    if (u.hash && url === current && url === appUrl(location)) return; // an anchor on this page
    if (!live()) return; // the browser loads it
    e.preventDefault();
    navigate(url, a.getAttribute("data-navigate") === "replace" ? "replace" : "push", u.hash);
  }

  function onPopState() {
    const url = appUrl(location);
    if (url === null) {
      location.reload();
      return;
    }
    if (url === current) return; // only the hash changed
    navigate(url, "pop", location.hash);
  }

