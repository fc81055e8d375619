/* Effects.
 *
 * Effects ("fx" on any server message) run in order after its patches, each by its kind's
 * handler in EFFECTS (docs/protocol.md#effects); their paths are within the app (the root
 * path from <meta name="rweb-root"> goes in front unless they already start with it).
 */

  // ------------------------------------------------------------- effects

  // Each effect kind's handler (docs/protocol.md#effects): (data, msg, nav, latest) -> true if
  // the page is being left (a real page load). `nav`: the navigation this message answers,
  // if any (a superseded one's redirect is not followed).
  const EFFECTS = new Map([
    [FX.COOKIE, (data) => { redeemCookie(data); }],
    [FX.NAV, (data, msg, nav, latest) => {
      if (nav !== undefined && !latest) return false;
      if (data.mode === "load") {
        // The page asked for (or joined) sends the browser elsewhere: see load().
        return load(data.url, nav !== undefined ? nav : msg.t === T.INIT ? "replace" : "assign");
      }
      if (isLocal(data.url)) navTo(data.url, data.mode === "replace" ? "replace" : "push");
      else console.warn("rweb: navigation to a URL outside the app refused", data.url);
    }],
    [FX.STREAM, (data) => { applyStream(data); }],
    [FX.UPLOAD_STOP, (data) => { stopUploads(data.name); }],
    [FX.EVENT, (data) => { serverEvent(data); }],
    [FX.JS, (data) => { if (Array.isArray(data.cmds)) runJs(data.cmds, document.body); }],
    [FX.RESET, (data) => { for (const el of select(data.selector)) resetFields(el); }],
    [FX.FOCUS, (data) => {
      const el = select(data.selector)[0];
      if (el) el.focus();
    }],
  ]);

  // Run a message's effects in order; true if the page is being left (a real page load).
  function runEffects(msg, nav, latest) {
    const fx = msg.fx;
    if (!Array.isArray(fx)) return false;
    let loads = false;
    for (const item of fx) {
      if (!Array.isArray(item) || !item[1] || typeof item[1] !== "object") continue;
      const run = EFFECTS.get(item[0]);
      if (run) loads = run(item[1], msg, nav, latest) === true || loads;
      else console.warn("rweb: unknown effect", item[0]);
    }
    return loads;
  }

  // The elements a selector in an effect names (none, with a warning, for a bad one).
  function select(selector) {
    try {
      return Array.from(document.querySelectorAll(selector));
    } catch {
      console.warn("rweb: bad selector in an effect", selector);
      return [];
    }
  }

  // The "reset" effect: the fields of a form (or container), or a field, get the state the
  // server rendered (their value / checked / selected attributes), focused or not; typing
  // held back for them (data-debounce, data-throttle) is dropped.
  function resetFields(el) {
    const fields = el.matches(FIELDS) ? [el] : Array.from(el.querySelectorAll(FIELDS));
    for (const f of fields) {
      if (!editable(f)) continue;
      for (const [key, t] of throttled) if (key === f || key.contains(f)) t.fire = null;
      for (const [key, d] of Array.from(debounced)) {
        if (key === f || key.contains(f)) {
          clearTimeout(d.id);
          debounced.delete(key);
        }
      }
      const s = defaultStateOf(f);
      if (stateOf(f) !== s) {
        if (f.nodeName === "INPUT" && !checkable(f)) setValue(f, s);
        else setState(f, s);
      }
      known.delete(f);
    }
  }

  // A real page load of `url` (a path on this site, or http(s)://), once the pending
  // cookies are set. `how`: "assign" (a new history entry), "replace", or the
  // navigation that led here: its history entry was not pushed yet, so a push
  // assigns, a replace replaces, and back / forward replace the entry the browser
  // went to.
  function load(url, how) {
    if (isLocal(url)) url = rooted(url);
    else if (typeof url !== "string" || !/^https?:\/\//i.test(url)) {
      console.warn("rweb: refused to load", url);
      return false;
    }
    const mode = typeof how === "string" ? how : how.mode;
    leave(() => {
      if (mode === "push" || mode === "assign") location.assign(url);
      else if (mode === "pop" && url === location.pathname + location.search + location.hash) location.reload();
      else location.replace(url);
    });
    return true;
  }

  // Leave the page: no banner and no reconnect while the next page loads.
  function leave(go) {
    leaving = true;
    afterCookies(go);
    // A load that leaves the page where it is (a download, a 204) gives it back.
    setTimeout(() => {
      leaving = false;
      if (!sock && !stopped && !unloading) {
        setDown(true);
        reconnectLater();
      }
    }, LEAVE_WAIT);
  }

  function redeemCookie(data) {
    const token = data.token;
    if (!isLocal(data.url) || typeof token !== "string") {
      console.warn("rweb: bad cookie effect", data);
      return;
    }
    const url = rooted(data.url);
    const req = fetch(url, {
      method: "POST",
      body: token,
      credentials: "same-origin",
      cache: "no-store",
      keepalive: true, // survives a page load that follows
      headers: { "Content-Type": "text/plain" },
    }).then(
      (res) => {
        if (!res.ok) console.warn("rweb: the cookie request failed with HTTP", res.status);
        emit("rweb:cookie", { url, ok: res.ok, status: res.status });
        return res.ok;
      },
      (err) => {
        console.warn("rweb: the cookie request failed", err);
        emit("rweb:cookie", { url, ok: false, status: 0 });
        return false;
      },
    );
    cookieRequests.add(req);
    req.then(() => cookieRequests.delete(req));
  }

  // Resolves (true if all succeeded) once the cookie requests under way now are done.
  function cookiesSet() {
    if (!cookieRequests.size) return Promise.resolve(true);
    return Promise.all(Array.from(cookieRequests)).then((oks) => oks.every(Boolean));
  }

  function afterCookies(fn) {
    if (!cookieRequests.size) {
      fn();
      return;
    }
    let done = false;
    const once = () => {
      if (!done) {
        done = true;
        fn();
      }
    };
    cookiesSet().then(once, once);
    setTimeout(once, COOKIE_WAIT);
  }

