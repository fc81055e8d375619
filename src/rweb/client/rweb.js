/* rweb browser client: one WebSocket, server-rendered components, DOM morphing,
 * live navigation between the app's pages.
 *
 * Hand-written, no build step, no dependencies. The wire protocol (joining, resuming, every
 * message, errors, effects) is described in docs/protocol.md; its words are the constants
 * below (T, FX, E, CLOSE), generated from rweb.protocol.WIRE.
 * A component's HTML is s[0] + d[0] + s[1] + ... + s[n]; a dynamic is an
 * escaped HTML string or {"c": "<child name>"}. Its root element carries
 * data-rc="<name>". Each changed component is rebuilt and morphed in place.
 *
 * Bindings (delegated on document):
 *   data-action="x"        click sends action x (on a <form>: submit sends x with its fields)
 *   data-param-foo-bar="1" adds {"foo-bar": "1"} to the params
 *   data-onsubmit="x"      on a <form>: submit sends x with its fields
 *   data-oninput="x"       input event sends {"value": ...} (and "checked" for checkboxes, radios)
 *   data-onchange="x"      change event, the same
 *   data-debounce="ms"     with data-oninput: send once typing pauses for ms
 *   data-throttle="ms"     with data-action (clicks) or data-oninput: at most one action per ms:
 *                          the first at once, then one at the end of each ms window that had
 *                          events, with the latest of them (the field's value then); wins over
 *                          data-debounce
 *   data-upload="name"     on <input type=file> (conn.allow_upload): a submit of its form uploads the
 *                          files over the socket first ({"t": "upload", ...}, then binary frames:
 *                          0x01, the file id on 4 bytes, a chunk), then sends the action with the ids
 *                          in the field; the input carries data-progress meanwhile; with
 *                          data-upload-auto it uploads as soon as files are chosen
 *   data-upload-cancel="n" click: stop upload n, clear its input, the server drops its files
 *   data-disable-with="t"  on a data-action element, or a form's submit button: while its action
 *                          waits for its reply the element is disabled and shows t; then it shows
 *                          what the server rendered
 *
 * Pending states: the element clicked (a submitted form, and its submit button) carries the
 * class rweb-loading from the action's send until its reply (an error too), or until it is
 * dropped, reconnects included; rweb-pending as well once the action met a lost connection
 * (until the same reply). <html> carries rweb-busy (#rweb-busy, a thin bar at the top, shows) once an action
 * or navigation has waited rwebConfig.busyDelay ms on the socket, until none waits.
 *
 * Form controls and the server's values: a changed value / checked / selected attribute in
 * the reply to one of this page's actions is applied, to the focused control too, unless the
 * user changed that control since the action went (or a later action, or typing held back by
 * data-debounce / data-throttle, carries its newer state); in a push it is never applied to
 * the focused control nor to one whose state the server has not seen (docs/forms.md).
 *   <a href data-navigate> a plain left click shows the link's page without a reload: the
 *                          history gets a new entry and the server mounts that page on this
 *                          socket (or patches this one); data-navigate="replace" replaces the
 *                          entry. Modified clicks, target="_blank", other origins and links
 *                          while disconnected are left to the browser. Back / forward between
 *                          such entries navigate live too.
 *   data-js="[[cmd, {..}]]" JS commands (rweb.JS) run on click (a form: on submit), before the
 *                          element's action; a declined "confirm" stops both (docs/hooks.md)
 *   data-hook="Name"       a client hook (window.rwebHooks / rweb.hook): mounted, updated,
 *                          destroyed; this.pushEvent(action, params), this.handleEvent(name, fn);
 *                          data-hook-actions="a b" lists the actions it may send
 *
 * Reconnecting: the client keeps the latest join's token (`tok`, in memory, for this page load
 * only) and joins with it after a lost connection; a token resumes once (every init after a
 * reconnect carries a new one, kept in its place). While it has one, actions are not dropped: sent
 * while disconnected, they are queued (100 at most); sent but unanswered when the socket
 * went, they are kept. The next init settles them: "resumed" (the same session, `c` is the
 * page as it is now): those with ref <= `last` were applied, so they are dropped (their
 * promises resolve with null) and the others are sent again in order with their refs;
 * "fresh" (the session is gone): all are sent again to the new one, and rweb:fresh tells the
 * app; neither (a server that does not resume): they are dropped. Without a token (an old
 * server, resuming off) nothing is queued and a lost connection drops them, as before.
 * Navigations in flight are dropped either way. While actions wait, the banner says
 * "Reconnecting… (N pending)" and the elements clicked carry the class rweb-pending until
 * their reply.
 *
 * Form recovery: what the user typed survives a reconnect. While disconnected, a field's
 * data-oninput / data-onchange action is queued once (its latest value replaces the one it
 * queued last). Before a resumed or fresh init is morphed in, the fields whose state is the
 * user's are captured, and put back if the morph changed them (bound or not: a login form
 * keeps what was typed). Then every bound field whose state the server does not have (not
 * sent, debounced, or, after a fresh session, changed from what the new page renders) sends
 * its action once, after the queued actions; rweb:recovered lists them. A field the server
 * changed after it applied the user's value keeps the server's.
 *
 * Restarts: a socket closed with 1012 (service restart: the server stops, and is expected
 * back) is retried after 100-250 ms, then with the usual backoff; the banner (and
 * rweb:disconnected) only shows if the page is not connected again after
 * window.rwebConfig.restartBanner ms (2000; 0: at once). Clicks meanwhile are queued and
 * marked rweb-pending, as during any disconnection.
 *
 * Effects ("fx" on any server message) run in order after its patches, each by its kind's
 * handler in EFFECTS (docs/protocol.md#effects).
 *
 * Window events:
 *   rweb:connected     {msg}             an init arrived on a new socket (first connection or reconnect)
 *   rweb:stream        {name, ops}       a stream's rows changed
 *   rweb:event         {name, payload}   an event from the server (conn.push_event)
 *   rweb:fresh         {msg, resent}     a reconnect could not resume the session: a new one started
 *                                        (the page was reset); `resent` actions were sent to it again
 *   rweb:disconnected  {}                the connection was lost (the page shows it; after a 1012
 *                                        close, only once restartBanner ms passed without a socket)
 *   rweb:recovered     {fresh, fields}   after a reconnect, form fields were put back or sent again:
 *                                        fields: [{el, name, action, resent, restored}]
 *   rweb:update        {components, msg} after the DOM was updated for init, r or p
 *   rweb:error         {code, message, ref, t}  a reply, a push or the page (init) carried an error
 *   rweb:navigate      {url, kind, ref, current, msg}  a live navigation's reply was applied;
 *                                         kind: "mount" (another page), "patch" (same session),
 *                                         "load" (a real page load follows), "error"
 *   rweb:cookie        {url, ok, status}  a cookie request finished
 *   rweb:upload        {name, input, ok, reason}  an upload ended (reason: "disconnected",
 *                                        "cancelled", or the error code of a refusal)
 *   rweb:busy, rweb:idle  {}             <html> got, or lost, the class rweb-busy
 *
 * window.rweb: send(action, params) -> Promise<reply | null>, navigate(url, {replace}) ->
 * Promise<reply | null>, cookiesSet() -> Promise<bool> (pending cookie requests done),
 * url (the app URL shown), root, connected, components, pending (actions sent or queued,
 * not answered yet), connect(), disconnect(), html(name), morph(el, markup).
 *
 * window.rwebConfig (set before this script runs; all in ms): heartbeat (25000: ping after
 * that much silence), heartbeatWait (10000: no answer by then, the socket is dead),
 * restartBanner (2000: after a 1012 close, the banner waits that long for the socket),
 * busyDelay (200: rweb-busy after an action waited that long; 0: at once; -1: never, no events).
 */
(() => {
  "use strict";

  if (window.rweb && window.rweb.version) return; // loaded twice

  /* rweb:wire:begin */
  // The wire's words (docs/protocol.md), generated from rweb.protocol.WIRE by
  // scripts/wire_table.py: edit them there. tests/test_wire.py checks this block.
  const T = Object.freeze({ INIT: "init", REPLY: "r", PUSH: "p", NAV: "nav", PING: "ping", UPLOAD: "upload", UPLOAD_CANCEL: "upload_cancel" });
  const FX = Object.freeze({ NAV: "nav", COOKIE: "cookie", RESET: "reset", FOCUS: "focus", JS: "js", STREAM: "stream", EVENT: "event", UPLOAD_STOP: "upload_stop" });
  const E = Object.freeze({ BAD_JSON: "bad_json", BAD_MESSAGE: "bad_message", BAD_PARAMS: "bad_params", BINARY_FRAME: "binary_frame", TOO_LARGE: "too_large", UNKNOWN_ACTION: "unknown_action", HANDLER_ERROR: "handler_error", RENDER_ERROR: "render_error", SETUP_ERROR: "setup_error", NOT_FOUND: "not_found", SHARED_STATE: "shared_state", UPLOAD_REFUSED: "upload_refused", UPLOAD_FAILED: "upload_failed", APP_FAILED: "app_failed" });
  const CLOSE = Object.freeze({ NORMAL: 1000, GOING_AWAY: 1001, ABNORMAL: 1006, POLICY_VIOLATION: 1008, INTERNAL_ERROR: 1011, SERVICE_RESTART: 1012, NO_HEARTBEAT: 4000 });
  /* rweb:wire:end */

  const MIN_DELAY = 200; // first reconnect delay (ms), doubled per failed attempt
  const MAX_DELAY = 10000;
  const MAX_DEPTH = 256; // component nesting: guards against reference cycles
  const COOKIE_WAIT = 5000; // a page load waits this long at most for pending cookie requests (ms)
  const LEAVE_WAIT = 15000; // a page load that has not unloaded the page by then did not happen (ms)
  const MAX_QUEUE = 100; // actions kept while disconnected (queued and unanswered); more are refused
  // Heartbeat: after HEARTBEAT ms without a message from the server the client
  // asks {"t":"ping"}; no answer within HEARTBEAT_WAIT ms means the socket is
  // dead (a sleeping laptop, a proxy that dropped it silently): reconnect.
  // Both can be set before this script runs: window.rwebConfig = {heartbeat, heartbeatWait}.
  const settings = (typeof window.rwebConfig === "object" && window.rwebConfig) || {};
  const HEARTBEAT = settings.heartbeat > 0 ? settings.heartbeat : 25000;
  const HEARTBEAT_WAIT = settings.heartbeatWait > 0 ? settings.heartbeatWait : 10000;
  // A socket closed with 1012 (the server restarts): the first retry comes after
  // RESTART_RETRY ms (with jitter), and the banner shows only if the page is still not
  // connected RESTART_BANNER ms after the close (window.rwebConfig.restartBanner; 0: at once).
  const RESTART_BANNER = settings.restartBanner >= 0 ? settings.restartBanner : 2000;
  const RESTART_RETRY = [100, 250];
  // The page is busy (class rweb-busy on <html>, a bar at the top, rweb:busy) once an action
  // has waited that long for its reply (window.rwebConfig.busyDelay; 0: at once; < 0: never).
  const BUSY_DELAY = typeof settings.busyDelay === "number" ? settings.busyDelay : 200;
  const PARAM_PREFIX = "data-param-";
  const STYLE =
    "#rweb-status{display:none}" +
    "html.rweb-disconnected #rweb-status{display:block;position:fixed;top:0;left:0;right:0;" +
    "padding:4px 8px;background:#b00020;color:#fff;font:14px sans-serif;text-align:center;z-index:2147483647}" +
    "#rweb-busy{display:none}" +
    "html.rweb-busy #rweb-busy{display:block;position:fixed;top:0;left:0;right:0;height:3px;z-index:2147483646;" +
    "pointer-events:none;background:linear-gradient(90deg,transparent,#29d 50%,transparent) no-repeat;" +
    "background-size:40% 100%;animation:rweb-busy 1.2s linear infinite}" +
    "@keyframes rweb-busy{from{background-position:-60% 0}to{background-position:160% 0}}";

  const comps = Object.create(null); // name -> {s: [...], d: [...]}
  const pending = new Map(); // ref of a nav message -> resolve of navigate()'s promise
  // Actions not answered yet, in ref order: ref -> {data (the JSON text), resolve (send()'s
  // promise), el (the element clicked, or null), on (the socket it went out on, or null:
  // queued), marked (el carries rweb-pending for it)}. Kept across a lost connection when
  // the server gave a resume token.
  const acts = new Map();
  const marked = new Map(); // element -> how many of its actions are unanswered (class rweb-pending)
  const loading = new Map(); // element -> how many of its actions are unanswered (class rweb-loading)
  // Element with data-disable-with -> {n: its unanswered actions, disabled, content: what the
  // server rendered (its child nodes, or an input's value)}: shown disabled with that text.
  const disabledWith = new Map();
  const debounced = new Map(); // element -> {id: timeout id, fire}
  // data-throttle: element -> {id: the window's timeout id, fire: the send held for the window's
  // end, or null}
  const throttled = new Map();
  // Form field -> its state (see stateOf()) as the server has it: what the client last sent
  // for it, or (no entry) what the server rendered. A field whose state differs has news
  // the server has not seen: it is sent again after a reconnect (see recover()).
  let known = new WeakMap();
  const navs = new Map(); // ref of a nav message -> {url, mode, hash, scroll}
  const cookieRequests = new Set(); // promises of the cookie requests under way
  const tpl = document.createElement("template");
  let sock = null; // the current WebSocket, or null
  let connected = false; // the current socket's init arrived
  let down = false; // the disconnected state is shown
  let stopped = false; // rweb.disconnect() was called
  let unloading = false;
  let leaving = false; // a page load asked for by the server is under way
  let attempt = 0; // failed connection attempts in a row
  let timer = null;
  let ref = 0;
  let joined = null; // the app URL the current socket joined
  let current = null; // the app URL of the page shown (path and query within the root)
  let navRef = null; // the ref of the latest navigation, until its reply
  let navMounted = false; // a navigation since the latest one's reply mounted another page...
  let navTitle = null; // ... with this title
  let root = null; // the app's root path: "" or "/prefix" (<meta name="rweb-root">)
  let socketPath = null; // <meta name="rweb-socket">, or null: the legacy /ws + location.search
  let heard = 0; // when the current socket last received a message (performance.now())
  let pinged = 0; // when a heartbeat ping went out unanswered, or 0
  let beat = null; // the heartbeat interval
  let token = null; // the session's resume token ("tok" of the latest join's init): memory only
  let quietUntil = 0; // after a 1012 close: no banner before then (performance.now()), or 0
  let quietTimer = null; // shows the banner at quietUntil if the page is still not connected
  let restartRetry = false; // the next reconnect is the first one after a 1012 close
  let busy = false; // <html> carries rweb-busy
  let busyTimer = null;
  // The message whose patches are being morphed in: {a: the action it answers, or null (a
  // push), ref}; null: an init, or rweb.morph() (see holds()).
  let applying = null;

  const emit = (name, detail) => window.dispatchEvent(new CustomEvent(name, { detail }));

  // ---------------------------------------------------------------- HTML

  function html(name, depth) {
    const c = comps[name];
    if (!c) {
      console.warn("rweb: unknown component", name);
      return "";
    }
    if (depth > MAX_DEPTH) {
      console.warn("rweb: components nested too deep at", name);
      return "";
    }
    const { s, d } = c;
    let out = s[0];
    for (let i = 0; i < d.length; i++) {
      const v = d[i];
      if (v !== null && typeof v === "object") out += html(v.c, depth + 1);
      else if (v != null) out += v;
      out += s[i + 1] ?? "";
    }
    return out;
  }

  function parse(markup) {
    tpl.innerHTML = markup;
    return tpl.content.firstElementChild;
  }

  // --------------------------------------------------------------- morph

  // Children are matched by key where they have one: data-rc, data-key, id.
  function keyOf(n) {
    if (n.nodeType !== 1) return null;
    let k = n.getAttribute("data-rc");
    if (k !== null) return "c" + k;
    k = n.getAttribute("data-key");
    if (k !== null) return "k" + k;
    k = n.getAttribute("id");
    return k ? "i" + k : null;
  }

  const selects = new WeakMap(); // a <select> being morphed -> its options keep their state

  const compatible = (a, b) =>
    a.nodeType === b.nodeType && a.nodeName === b.nodeName && a.namespaceURI === b.namespaceURI;

  // The control the user is in: its value, checkedness and selection stay as they are.
  function editing(el) {
    const a = document.activeElement;
    if (!a || a === document.body) return false;
    return el === a || (el.nodeName === "OPTION" && a.nodeName === "SELECT" && a.contains(el));
  }

  function syncAttrs(from, to) {
    for (const a of to.attributes) {
      const ns = a.namespaceURI;
      if (ns) {
        if (from.getAttributeNS(ns, a.localName) !== a.value) from.setAttributeNS(ns, a.name, a.value);
      } else if (from.getAttribute(a.name) !== a.value) {
        from.setAttribute(a.name, a.value);
      }
    }
    const fa = from.attributes;
    for (let i = fa.length - 1; i >= 0; i--) {
      const a = fa[i], ns = a.namespaceURI;
      if (ns ? !to.hasAttributeNS(ns, a.localName) : !to.hasAttribute(a.name)) from.removeAttributeNode(a);
    }
  }

  // Does form control `el` keep its state (value, checkedness, selection) although the server
  // renders another one? Asked only when its value / checked / selected attribute changed.
  //   the reply to one of this page's actions: the server's value wins, focused or not,
  //     unless the user changed the field since that action went (what it sent for the
  //     field, or, for the focused field it did not send, its state then), or a later
  //     action still on its way, or typing held back (data-debounce, data-throttle),
  //     carries the field's newer state
  //   a push (or the reply to a navigation): never over the focused control, nor over one
  //     whose state the server has not seen (typed but not sent, sent and not answered)
  //   an init, rweb.morph(): the focused control keeps its state (a reconnect's init is
  //     handled by capture() / restore())
  function holds(el) {
    const ctx = applying, focused = editing(el);
    if (ctx === null) return focused;
    for (const b of debounced.keys()) if (b === el || b.contains(el)) return true;
    for (const [b, t] of throttled) if (t.fire && (b === el || b.contains(el))) return true;
    const a = ctx.a;
    for (const [r, b] of acts) {
      if (b !== a && (a === null || r > ctx.ref) && sentState(b, el) !== undefined) return true;
    }
    if (a === null) return focused || stateOf(el) !== knownOf(el);
    const s = sentState(a, el);
    if (s !== undefined) return stateOf(el) !== s;
    return focused && (el !== a.focus || stateOf(el) !== a.focusState);
  }

  // The state action `a` sent for field `el`, or undefined.
  const sentState = (a, el) => (a.field === el ? a.state : a.seen ? a.seen.get(el) : undefined);

  // Set the value of an input or textarea; the focused one keeps its caret where it can.
  function setValue(el, v) {
    let sel = null;
    if (el === document.activeElement) {
      try {
        if (typeof el.selectionStart === "number") sel = [el.selectionStart, el.selectionEnd, el.selectionDirection];
      } catch { /* this input type has no selection */ }
    }
    el.value = v;
    if (sel) {
      try { el.setSelectionRange(Math.min(sel[0], v.length), Math.min(sel[1], v.length), sel[2]); } catch { /* ignore */ }
    }
  }

  // Morph `from` (in the page) into `to` (parsed); returns the node now in the page.
  //
  // Form controls: the value, checkedness and selectedness of a control follow
  // the server when its value / checked / selected attribute changed, except where
  // the user's state is kept (see holds()). A control the server renders the same way
  // as before keeps what the user typed or ticked.
  function morph(from, to) {
    const out = morphNode(from, to);
    // An element shown with its data-disable-with text now has the server's content: keep
    // that for later, and show the text again.
    if (disabledWith.size && out === from && disabledWith.has(from)) redisable(from);
    return out;
  }

  function morphNode(from, to) {
    if (!compatible(from, to)) {
      from.parentNode.replaceChild(to, from);
      return to;
    }
    if (from.nodeType !== 1) {
      if (from.nodeValue !== to.nodeValue) from.nodeValue = to.nodeValue;
      return from;
    }
    if (from.isEqualNode(to)) return from;
    switch (from.nodeName) {
      case "INPUT": {
        const oldValue = from.getAttribute("value"), oldChecked = from.hasAttribute("checked");
        const value = to.getAttribute("value"), checked = to.hasAttribute("checked");
        // Asked before the attributes change: the state the server had is the old one.
        const keep = (value !== oldValue || checked !== oldChecked) && holds(from);
        syncAttrs(from, to);
        if (!keep) {
          if (value !== oldValue && from.type !== "file" && from.value !== (value ?? "")) {
            setValue(from, value ?? "");
            known.delete(from);
          }
          if (checked !== oldChecked && from.checked !== checked) {
            from.checked = checked;
            known.delete(from);
          }
        }
        return from;
      }
      case "TEXTAREA": {
        syncAttrs(from, to);
        const text = to.value; // a parsed textarea's value is its text
        if (from.defaultValue !== text) {
          const keep = holds(from);
          from.defaultValue = text; // the value follows unless the user edited it
          if (!keep && from.value !== text) {
            setValue(from, text);
            known.delete(from);
          }
        }
        return from;
      }
      case "SELECT":
        // Its options follow the server, or all keep the user's choice.
        selects.set(from, holds(from));
        syncAttrs(from, to);
        break;
      case "OPTION": {
        const was = from.hasAttribute("selected"), is = to.hasAttribute("selected");
        syncAttrs(from, to);
        const sel = was !== is ? from.closest("select") : null;
        const keep = sel && selects.has(sel) ? selects.get(sel) : editing(from);
        if (!keep && was !== is && from.selected !== is) {
          from.selected = is;
          if (sel) known.delete(sel);
        }
        break;
      }
      default:
        syncAttrs(from, to);
        // A stream's rows are the browser's (see applyStream): the server renders its container empty.
        if (from.hasAttribute("data-stream")) return from;
    }
    morphChildren(from, to);
    if (from.nodeName === "SELECT") selects.delete(from);
    return from;
  }

  function morphChildren(fp, tp) {
    const news = Array.from(tp.childNodes);
    const wanted = new Set();
    for (const t of news) {
      const k = keyOf(t);
      if (k !== null) wanted.add(k);
    }
    // Keyed children that are gone are dropped first, so that removing a row
    // at the top moves nothing; the others are found by key.
    const keyed = new Map();
    for (let c = fp.firstChild, next; c; c = next) {
      next = c.nextSibling;
      const k = keyOf(c);
      if (k === null) continue;
      if (!wanted.has(k)) fp.removeChild(c);
      else if (!keyed.has(k)) keyed.set(k, c);
    }
    // Invariant: the children before `cur` are done, in the new order.
    let cur = fp.firstChild;
    for (const t of news) {
      const k = keyOf(t);
      let m = null;
      if (k !== null) {
        const c = keyed.get(k);
        if (c && compatible(c, t)) {
          m = c;
          keyed.delete(k);
        }
      } else {
        // The first unkeyed node of the same kind from here on.
        for (let c = cur; c; c = c.nextSibling) {
          if (compatible(c, t) && keyOf(c) === null) {
            m = c;
            break;
          }
        }
      }
      if (m) {
        if (m === cur) cur = cur.nextSibling;
        else fp.insertBefore(m, cur);
        morph(m, t);
      } else {
        fp.insertBefore(t, cur); // moves the parsed node into the page
      }
    }
    while (cur) {
      const next = cur.nextSibling;
      fp.removeChild(cur);
      cur = next;
    }
  }

  // Morph the element of component `name` into its HTML from the store;
  // false if the element is not on the page.
  function render(name) {
    const el = document.querySelector('[data-rc="' + CSS.escape(name) + '"]');
    if (!el) return false;
    const markup = html(name, 0), to = parse(markup);
    if (!to) {
      el.remove();
      return true;
    }
    try {
      morph(el, to);
    } catch (err) {
      console.error("rweb: morph failed, replacing the component", name, err);
      const fresh = parse(markup);
      if (el.isConnected && fresh) el.replaceWith(fresh);
    }
    return true;
  }

  // Run `fn` (which changes the DOM) and put focus and caret back if a move lost them.
  function keepFocus(fn) {
    let a = document.activeElement, sel = null;
    if (a === document.body) a = null;
    if (a) {
      try {
        if (typeof a.selectionStart === "number") sel = [a.selectionStart, a.selectionEnd, a.selectionDirection];
      } catch { /* this input type has no selection */ }
    }
    try {
      fn();
    } finally {
      if (a && a.isConnected && document.activeElement !== a) {
        a.focus({ preventScroll: true });
        if (sel) {
          try { a.setSelectionRange(...sel); } catch { /* ignore */ }
        }
      }
    }
  }

  // ------------------------------------------------------------- patches

  // Apply `d` to the store; the names of the components that changed.
  function applyPatches(d) {
    const changed = [];
    for (const name in d) {
      const p = d[name];
      if (p === null) {
        delete comps[name];
      } else if (Array.isArray(p.s)) {
        comps[name] = { s: p.s, d: Array.isArray(p.d) ? p.d : [] };
        changed.push(name);
      } else if (comps[name]) {
        const dyns = comps[name].d;
        for (const i in p) dyns[+i] = p[i];
        changed.push(name);
      } else {
        console.warn("rweb: patch for an unknown component", name);
      }
    }
    return changed;
  }

  // The changed components none of whose ancestors changed: a parent's new
  // HTML already includes its children.
  function topmost(changed) {
    if (changed.length < 2) return changed;
    const set = new Set(changed), parent = new Map();
    for (const name in comps) {
      for (const v of comps[name].d) {
        if (v !== null && typeof v === "object") parent.set(v.c, name);
      }
    }
    return changed.filter((n) => {
      for (let p = parent.get(n), depth = 0; p !== undefined && depth < MAX_DEPTH; p = parent.get(p), depth++) {
        if (set.has(p)) return false;
      }
      return true;
    });
  }

  function update(names) {
    if (!names.length) return;
    keepFocus(() => {
      for (const name of names) {
        if (comps[name] && !render(name)) {
          // Not on the page (it should have been): rebuild the page from the root.
          if (comps.root) render("root");
          return;
        }
      }
    });
  }

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
    if (msg.t === T.INIT) {
      // A new page: the socket's first message, or another page mounted by a navigation.
      // A reconnect's init is morphed over what the user typed: keep it (see capture()).
      const rejoin = msg.ref == null && (msg.resumed === true || msg.fresh === true);
      const saved = rejoin ? capture(msg) : null;
      let restored = [];
      for (const k in comps) delete comps[k];
      const c = msg.c || {};
      for (const k in c) comps[k] = { s: c[k].s, d: c[k].d || [] };
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
        endQuiet();
        setDown(false);
        emit("rweb:connected", { msg });
        rejoined(msg, restored);
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

  // ----------------------------------------------------- pending actions

  // Action `r` is answered (`msg`), or dropped (null): forget it, resolve its promise.
  // Its elements lose the classes rweb-pending and rweb-loading, and their data-disable-with
  // text, once none of their actions waits.
  function answered(r, msg) {
    const a = acts.get(r);
    if (!a) return;
    acts.delete(r);
    if (a.marked) uncount(marked, a.el, "rweb-pending");
    if (a.loads) for (const el of a.loads) uncount(loading, el, "rweb-loading");
    if (a.disables) for (const el of a.disables) enable(el);
    if (down) showStatus();
    checkBusy();
    a.resolve(msg);
  }

  // The element of action `a` shows that the action waits for the connection (only once the
  // connection is lost: a click answered in time changes nothing but what the server sends).
  function mark(a) {
    if (!a.el || a.marked) return;
    a.marked = true;
    count(marked, a.el, "rweb-pending");
  }

  function count(map, el, cls) {
    map.set(el, (map.get(el) || 0) + 1);
    el.classList.add(cls);
  }

  function uncount(map, el, cls) {
    const n = (map.get(el) || 1) - 1;
    if (n > 0) {
      map.set(el, n);
      return;
    }
    map.delete(el);
    if (el.classList.length === 1 && el.classList.contains(cls)) el.removeAttribute("class");
    else {
      el.classList.remove(cls);
      if (el.getAttribute("class") === "") el.removeAttribute("class");
    }
  }

  // A morph syncs the class attribute with the server's markup: put the marks back.
  function remark() {
    for (const el of marked.keys()) {
      if (!el.classList.contains("rweb-pending")) el.classList.add("rweb-pending");
    }
    for (const el of loading.keys()) {
      if (!el.classList.contains("rweb-loading")) el.classList.add("rweb-loading");
    }
    if (uploads.size) reprogress();
  }

  // ------------------------------------------------ data-disable-with

  // While one of its actions waits for its reply, an element with data-disable-with is
  // disabled (aria-disabled for an element that cannot be: its clicks are ignored) and
  // shows that text instead of its content; then it gets back what the server rendered.
  const canDisable = (el) => "disabled" in el && el.nodeName !== "A";
  const textInput = (el) => el.nodeName === "INPUT";

  function disable(el) {
    const d = disabledWith.get(el);
    if (d) {
      d.n++;
      return;
    }
    disabledWith.set(el, { n: 1, disabled: false, content: null });
    redisable(el);
  }

  // Note what `el` shows now (the server's rendering) and show the data-disable-with text.
  function redisable(el) {
    const d = disabledWith.get(el), text = el.getAttribute("data-disable-with") ?? "";
    if (canDisable(el)) {
      d.disabled = el.disabled;
      el.disabled = true;
    } else {
      d.disabled = el.getAttribute("aria-disabled");
      el.setAttribute("aria-disabled", "true");
    }
    if (textInput(el)) {
      d.content = el.value;
      el.value = text;
    } else {
      d.content = Array.from(el.childNodes);
      el.textContent = text;
    }
  }

  function enable(el) {
    const d = disabledWith.get(el);
    if (!d || --d.n > 0) return;
    disabledWith.delete(el);
    if (canDisable(el)) el.disabled = d.disabled;
    else if (d.disabled === null) el.removeAttribute("aria-disabled");
    else el.setAttribute("aria-disabled", d.disabled);
    if (textInput(el)) el.value = d.content;
    else el.replaceChildren(...d.content);
  }

  // ------------------------------------------------------------ busy

  // <html> gets the class rweb-busy (and the window rweb:busy) once an action or a navigation
  // has waited BUSY_DELAY ms for its reply on the current socket; it loses it (rweb:idle)
  // when none waits. A lost connection shows the banner instead.
  function checkBusy() {
    if (BUSY_DELAY < 0) return;
    let oldest = Infinity;
    if (live()) {
      for (const a of acts.values()) if (a.on === sock && a.at < oldest) oldest = a.at;
      for (const n of navs.values()) if (n.at < oldest) oldest = n.at;
    }
    if (oldest === Infinity) {
      clearTimeout(busyTimer);
      busyTimer = null;
      if (busy) setBusy(false);
      return;
    }
    if (busy || busyTimer !== null) return;
    const wait = oldest + BUSY_DELAY - performance.now();
    if (wait <= 0) setBusy(true);
    else busyTimer = setTimeout(() => {
      busyTimer = null;
      checkBusy();
    }, wait);
  }

  function setBusy(on) {
    busy = on;
    const doc = document.documentElement;
    doc.classList.toggle("rweb-busy", on);
    if (on && !document.getElementById("rweb-busy") && document.body) {
      const el = document.createElement("div");
      el.id = "rweb-busy";
      el.setAttribute("aria-hidden", "true");
      document.body.appendChild(el);
    }
    emit(on ? "rweb:busy" : "rweb:idle", {});
  }

  // Send the actions that did not go out on the current socket, in ref order.
  function flush() {
    const s = sock;
    if (!live()) return;
    for (const a of acts.values()) {
      if (a.on === s) continue;
      try {
        s.send(a.data);
        a.on = s;
        a.at = performance.now();
      } catch {
        break; // the close event follows; they wait for the next socket
      }
    }
    checkBusy();
  }

  // A new socket's init arrived: settle the actions kept from before it.
  //   resumed: the same session; the server applied every action up to `last`
  //            (their effects are in the init): drop those, send the others again
  //   fresh:   a new session (the old one is gone): send them all again, tell the app
  //   neither: a server that does not resume: they are lost, as they always were
  // Then the form fields whose state the server has not seen are sent (recover()): typed
  // while disconnected and not queued, debounced and not sent yet, or, after a fresh
  // session, every field the user changed. `restored`: the fields capture() put back.
  function rejoined(msg, restored) {
    if (msg.resumed === true) {
      const last = msg.last == null ? null : Number(msg.last);
      if (last !== null && !Number.isNaN(last)) {
        for (const [r, a] of Array.from(acts)) {
          if (a.on !== null && typeof r === "number" && r <= last) answered(r, null);
        }
      }
      flush();
      recover(false, restored);
    } else if (msg.fresh === true) {
      const resent = acts.size;
      flush();
      // The new session knows only what was sent to it just now.
      known = new WeakMap();
      for (const a of acts.values()) if (a.field && a.on === sock) known.set(a.field, a.state);
      recover(true, restored);
      emit("rweb:fresh", { msg, resent });
    } else {
      for (const r of Array.from(acts.keys())) answered(r, null);
    }
  }

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

  // ------------------------------------------------------------- faults

  // A handler, a render or a setup failed on the server. Debug mode (App(debug=True): the
  // page has <meta name="rweb-debug">): an overlay with the error's type, message and
  // traceback. Otherwise a short notice with the reference the log line carries (the
  // error's text stays on the server); rwebConfig.errorNotice = false turns it off
  // (rweb:error still fires). A page refused state that sessions share (shared_state:
  // the server's configuration, see docs/security.md) stays broken: its notice stays.
  // app_failed comes only from the --reload supervisor while the app cannot start (a syntax
  // error): the overlay shows it whatever the page's mode; the page reloads once the app is
  // back (the next init, see onMessage).
  const FAULTS = new Set([E.HANDLER_ERROR, E.RENDER_ERROR, E.SETUP_ERROR, E.SHARED_STATE, E.APP_FAILED]);
  let appFailed = false;

  function showFault(e) {
    if (!FAULTS.has(e.code) || typeof e.message !== "string") return;
    if (e.code === E.APP_FAILED) appFailed = true;
    const debug = appFailed || document.querySelector('meta[name="rweb-debug"]') !== null;
    if (!debug && (window.rwebConfig || {}).errorNotice === false) return;
    let box = document.getElementById(debug ? "rweb-error-overlay" : "rweb-error");
    if (!box) {
      box = document.createElement("div");
      box.id = debug ? "rweb-error-overlay" : "rweb-error";
      box.setAttribute("role", "alert");
      const st = box.style;
      st.position = "fixed";
      st.zIndex = "2147483647";
      st.font = debug ? "13px ui-monospace, monospace" : "14px sans-serif";
      st.color = "#fff";
      if (debug) {
        Object.assign(st, { inset: "0", overflow: "auto", padding: "24px", background: "rgba(20,20,20,.94)" });
      } else {
        Object.assign(st, { right: "12px", bottom: "12px", maxWidth: "28em", padding: "8px 12px",
          background: "#b00020", borderRadius: "4px", cursor: "pointer" });
      }
      box.addEventListener("click", (ev) => {
        if (!debug || (ev.target instanceof Element && ev.target.closest("button"))) box.remove();
      });
      document.body.appendChild(box);
    }
    box.replaceChildren();
    if (debug) {
      const close = document.createElement("button");
      close.textContent = "Close";
      close.style.float = "right";
      const head = document.createElement("h2");
      head.textContent = e.code;
      head.style.font = "bold 16px sans-serif";
      const pre = document.createElement("pre");
      pre.textContent = e.message; // type (ref), message, traceback: text, never markup
      pre.style.whiteSpace = "pre-wrap";
      box.append(close, head, pre);
    } else {
      const ref = /\(ref ([0-9a-f]+)\)/.exec(e.message);
      const lasting = e.code === E.SHARED_STATE;
      box.textContent = (lasting ? "This page cannot be shown by this server" : "Something went wrong") +
        (ref ? " (reference " + ref[1] + ")" : "") + ".";
      clearTimeout(box.__rwebTimer);
      if (!lasting) box.__rwebTimer = setTimeout(() => box.remove(), 8000);
    }
  }

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

  // ------------------------------------------------- hooks, events, commands

  // Client hooks: window.rwebHooks (or rweb.hooks) maps a name to {mounted, updated,
  // destroyed}; an element with data-hook="Name" gets an instance (`this`: el,
  // pushEvent(action, params) -> promise of the reply, handleEvent(name, fn)) whose
  // callbacks run when the element appears, when a message re-rendered it, and when it
  // is gone. Actions a hook sends are listed in the element's data-hook-actions.
  const hooks = window.rwebHooks && typeof window.rwebHooks === "object" ? window.rwebHooks : {};
  const hooked = new Map(); // element -> its hook instance
  let hookNames = 0; // hooks ever registered: 0 -> no scan per message

  function hookCall(inst, what) {
    const fn = inst.def[what];
    if (typeof fn !== "function") return;
    try {
      fn.call(inst);
    } catch (err) {
      console.error("rweb: hook " + inst.name + "." + what + " threw", err);
    }
  }

  // After a message: mount new hooked elements, update those in re-rendered components,
  // destroy those that left the page.
  function syncHooks(names) {
    if (!hookNames && !Object.keys(hooks).length) return;
    hookNames = 1;
    for (const [el, inst] of hooked) {
      if (!el.isConnected || el.getAttribute("data-hook") !== inst.name) {
        hooked.delete(el);
        inst.handlers.clear();
        hookCall(inst, "destroyed");
      }
    }
    const changed = (names || []).map((n) => document.querySelector('[data-rc="' + CSS.escape(n) + '"]')).filter(Boolean);
    for (const el of document.querySelectorAll("[data-hook]")) {
      const inst = hooked.get(el);
      if (inst) {
        if (changed.some((c) => c.contains(el))) hookCall(inst, "updated");
        continue;
      }
      const name = el.getAttribute("data-hook"), def = hooks[name];
      if (!def || typeof def !== "object") continue;
      const made = {
        el, name, def, handlers: new Map(),
        pushEvent: (action, params) => send(action, params, el),
        handleEvent(event, fn) {
          if (!made.handlers.has(event)) made.handlers.set(event, []);
          made.handlers.get(event).push(fn);
          return fn;
        },
        removeHandleEvent(event, fn) {
          const list = made.handlers.get(event);
          if (list) made.handlers.set(event, list.filter((f) => f !== fn));
        },
      };
      hooked.set(el, made);
      hookCall(made, "mounted");
    }
  }

  // conn.push_event(name, payload): the hooks that handle `name`, then the window event
  // rweb:event ({name, payload}).
  function serverEvent(data) {
    if (typeof data.name !== "string") return;
    for (const inst of hooked.values()) {
      const list = inst.handlers.get(data.name);
      if (!list) continue;
      for (const fn of list) {
        try {
          fn.call(inst, data.payload);
        } catch (err) {
          console.error("rweb: a handleEvent(" + data.name + ") callback threw", err);
        }
      }
    }
    emit("rweb:event", { name: data.name, payload: data.payload });
  }

  // JS commands (rweb.js_commands.JS): run in the browser with no round trip. `cmds`:
  // [[name, {to?, ...}], ...]; `to` is a selector (default: the element itself).
  // Returns false when a "confirm" was declined: nothing after it runs (nor the action).
  function runJs(cmds, el) {
    for (const cmd of cmds) {
      if (!Array.isArray(cmd) || typeof cmd[0] !== "string") continue;
      const name = cmd[0], a = cmd[1] && typeof cmd[1] === "object" ? cmd[1] : {};
      if (name === "confirm") {
        if (!window.confirm(String(a.message ?? ""))) return false;
        continue;
      }
      let targets;
      try {
        targets = typeof a.to === "string" ? Array.from(document.querySelectorAll(a.to)) : [el];
      } catch {
        console.warn("rweb: a JS command's selector is not valid", a.to);
        continue;
      }
      const names = typeof a.names === "string" ? a.names.split(/\s+/).filter(Boolean) : [];
      for (const t of targets) {
        switch (name) {
          case "show": t.hidden = false; t.style.removeProperty("display"); break;
          case "hide": t.hidden = true; break;
          case "toggle": t.hidden = !t.hidden; if (!t.hidden) t.style.removeProperty("display"); break;
          case "add_class": t.classList.add(...names); break;
          case "remove_class": t.classList.remove(...names); break;
          case "toggle_class": for (const n of names) t.classList.toggle(n); break;
          case "set_attr": if (safeAttr(a.name)) t.setAttribute(a.name, String(a.value ?? "")); break;
          case "remove_attr": if (safeAttr(a.name)) t.removeAttribute(a.name); break;
          case "focus": if (typeof t.focus === "function") t.focus(); break;
          case "dispatch": t.dispatchEvent(new CustomEvent(String(a.event), { bubbles: true, detail: a.detail ?? null })); break;
          default: console.warn("rweb: unknown JS command", name);
        }
      }
    }
    return true;
  }

  // set_attr / remove_attr: no event handlers, no rweb bindings, no URLs (the server's
  // escaping and URL checks do not see attributes set in the browser).
  function safeAttr(name) {
    if (typeof name !== "string" || !/^[a-zA-Z][a-zA-Z0-9:_.-]*$/.test(name)) return false;
    const n = name.toLowerCase();
    const ok = !n.startsWith("on") && !n.startsWith("data-action") && !n.startsWith("data-on") && !n.startsWith("data-js") &&
      !["href", "src", "action", "formaction", "srcdoc", "style", "data-hook", "data-hook-actions"].includes(n);
    if (!ok) console.warn("rweb: a JS command may not set the attribute", name);
    return ok;
  }

  // data-js on a clicked element (or a submitted form): its commands run first, in the
  // capture phase; a declined confirm stops the click (or submit) and its action.
  function onJs(e) {
    if (e.type === "click" && e.button !== 0) return;
    const t = elementOf(e.target);
    const el = e.type === "submit" ? e.target : t && t.closest("[data-js]");
    if (!el || !el.hasAttribute || !el.hasAttribute("data-js")) return;
    if (e.type === "click" && el.nodeName === "FORM") return;
    let cmds;
    try {
      cmds = JSON.parse(el.getAttribute("data-js"));
    } catch {
      console.warn("rweb: data-js is not JSON", el);
      return;
    }
    if (Array.isArray(cmds) && !runJs(cmds, el)) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }

  // ------------------------------------------------------------- streams

  // A stream's rows, by key, per container (built from its children once, then kept by the ops).
  const streamRows = new WeakMap();

  // The ops of a stream effect, in order: ["r"] removes every row; ["i", key, html, at] shows
  // a row at index `at` (-1: the end), or in place of the row with that key; ["d", key]
  // removes a row. Then `limit` rows at most are kept: the first ones (> 0) or the last (< 0).
  function applyStream(data) {
    const name = data.name, ops = data.ops;
    if (typeof name !== "string" || !Array.isArray(ops)) return;
    const box = document.querySelector('[data-stream="' + CSS.escape(name) + '"]');
    if (!box) {
      console.warn("rweb: no [data-stream] element for stream", name);
      return;
    }
    let rows = streamRows.get(box);
    if (!rows) {
      rows = new Map();
      for (const c of box.children) {
        const k = c.getAttribute("data-key");
        if (k !== null) rows.set(k, c);
      }
      streamRows.set(box, rows);
    }
    // Rows appended one after another (a first page, a reset) are parsed together.
    let batch = [];
    const flush = () => {
      if (!batch.length) return;
      const tpl = document.createElement("template");
      tpl.innerHTML = batch.join("");
      for (const el of Array.from(tpl.content.children)) {
        const k = el.getAttribute("data-key");
        if (k !== null) rows.set(k, el);
      }
      box.appendChild(tpl.content);
      batch = [];
    };
    for (const op of ops) {
      if (!Array.isArray(op)) continue;
      if (op[0] === "i" && typeof op[1] === "string" && typeof op[2] === "string") {
        const key = op[1], at = typeof op[3] === "number" ? op[3] : -1;
        const old = rows.get(key);
        if (!old && at === -1) {
          batch.push(op[2]);
          continue;
        }
        flush();
        const tpl = document.createElement("template");
        tpl.innerHTML = op[2];
        const el = tpl.content.firstElementChild;
        if (!el) continue;
        if (old && old.parentNode === box) {
          rows.set(key, morph(old, el)); // in place: a focused field in the row keeps its text
        } else {
          const before = at >= 0 ? box.children[at] || null : null;
          box.insertBefore(el, before);
          rows.set(key, el);
        }
      } else if (op[0] === "d" && typeof op[1] === "string") {
        flush();
        const old = rows.get(op[1]);
        if (old) {
          rows.delete(op[1]);
          old.remove();
        }
      } else if (op[0] === "r") {
        batch = [];
        rows.clear();
        box.replaceChildren();
      }
    }
    flush();
    const limit = data.limit;
    if (typeof limit === "number" && limit !== 0) {
      while (box.children.length > Math.abs(limit)) {
        const drop = limit > 0 ? box.lastElementChild : box.firstElementChild;
        const k = drop.getAttribute("data-key");
        if (k !== null) rows.delete(k);
        drop.remove();
      }
    }
    emit("rweb:stream", { name, ops: ops.length });
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

  // ---------------------------------------------------------- navigation

  function config() {
    if (root !== null) return;
    const meta = (name) => {
      const m = document.querySelector('meta[name="' + name + '"]');
      return m ? m.getAttribute("content") : null;
    };
    root = (meta("rweb-root") || "").replace(/\/+$/, "");
    socketPath = meta("rweb-socket");
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

  // Send an action; `el`: the element clicked, or the form submitted (it carries the class
  // rweb-loading until the reply, rweb-pending too while the reply waits for the connection).
  // Resolves with the server's reply once the DOM is updated, or with null if it was dropped.
  //
  // With a resume token (the server keeps sessions across a lost socket), an
  // action sent while disconnected is queued (MAX_QUEUE at most) and one whose
  // reply the lost socket never brought is kept: both are settled by the next
  // socket's init (see rejoined()). Without one, as before: nothing is queued,
  // and a lost connection resolves the unanswered actions with null.
  //
  // `field`: the form control whose input or change this action sends (its state is then
  // known to the server). While disconnected, a field's action replaces the one it queued
  // last if nothing was queued after it: typing while down queues one action per field.
  // `opts`: {submitter (the submit button: rweb-loading too), seen (form fields -> the state
  // sent for them)}. The elements with data-disable-with among `el` (or the form's submit
  // buttons) show that text until the reply.
  function send(action, params, el, field, opts) {
    const up = live();
    if (!up && token === null) return Promise.resolve(null);
    if (!up && field) {
      let tail = null;
      for (const e of acts) tail = e;
      if (tail && tail[1].on === null && tail[1].field === field) answered(tail[0], null);
    }
    if (!up && acts.size >= MAX_QUEUE) {
      console.warn("rweb: " + MAX_QUEUE + " actions wait for the connection already; dropped", action);
      return Promise.resolve(null);
    }
    const r = ++ref;
    const data = JSON.stringify({ action: String(action), params: params || {}, ref: r });
    return new Promise((resolve) => {
      const a = {
        data, resolve, el: el || null, on: null, at: 0, marked: false, field: field || null, state: null,
        seen: (opts && opts.seen) || null, loads: null, disables: null, focus: null, focusState: null,
      };
      if (field) a.state = noteSent(field);
      // The focused field's state now: a reply that changes it overwrites only that (holds()).
      const f = document.activeElement;
      if (f && f !== document.body && f !== field && f.matches(FIELDS)) {
        a.focus = f;
        a.focusState = stateOf(f);
      }
      if (el) {
        const submitter = opts && opts.submitter;
        a.loads = submitter && submitter !== el ? [el, submitter] : [el];
        for (const e of a.loads) count(loading, e, "rweb-loading");
        const dis = el.nodeName === "FORM"
          ? Array.from(el.elements).filter((b) => /^(submit|image)$/.test(b.type) && b.hasAttribute("data-disable-with"))
          : el.hasAttribute("data-disable-with") ? [el] : [];
        if (dis.length) {
          a.disables = dis;
          for (const e of dis) disable(e);
        }
      }
      acts.set(r, a);
      if (up) {
        try {
          sock.send(data);
          a.on = sock;
          a.at = performance.now();
          checkBusy();
        } catch {
          if (token === null) answered(r, null);
        }
      } else {
        mark(a);
        if (down) showStatus();
      }
    });
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
      return scheme + "//" + location.host + "/ws" + q + tok;
    }
    const u = new URL(socketPath, location.href);
    if (u.protocol === "http:" || u.protocol === "https:") u.protocol = scheme;
    u.searchParams.set("url", joined);
    if (token !== null) u.searchParams.set("tok", token);
    else u.searchParams.delete("tok");
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

  // The server closed the socket with 1012 (service restart): it is expected back soon, so
  // retry at once and keep the banner off for RESTART_BANNER ms. The actions clicked
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
    if (restartRetry) {
      restartRetry = false;
      delay = RESTART_RETRY[0] + Math.random() * (RESTART_RETRY[1] - RESTART_RETRY[0]);
    } else {
      const base = Math.min(MAX_DELAY, MIN_DELAY * 2 ** attempt);
      delay = base / 2 + Math.random() * (base / 2);
    }
    attempt++;
    // Jitter: after a server restart, its clients come back spread out.
    timer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (sock || stopped || unloading || leaving) return;
    attempt = 0;
    connect();
  }

  // ------------------------------------------------------------- uploads

  // A file input with data-upload="name" (conn.allow_upload) sends its files over the socket
  // (docs/uploads.md): {"t": "upload", name, files, ref} declares them; the reply's "up"
  // gives their ids and the chunk size; each file then goes as binary frames (0x01, the id
  // on 4 bytes, a chunk), paced by the socket's bufferedAmount. The form's action follows,
  // with the ids in the upload's field. Progress shows through the server's renders; the
  // input carries data-progress (0-100, of what went out) meanwhile.
  const UPLOAD_HIGH = 1024 * 1024; // bytes queued in the socket above which sending waits
  const UPLOADS = "input[type=file][data-upload]";
  const uploads = new Map(); // input -> {sig, promise of {ok, ids}, cancelled, progress}

  const fileSig = (input) =>
    Array.from(input.files || [], (f) => f.name + "\u0000" + f.size + "\u0000" + f.lastModified).join("\u0001");

  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // A control message with a ref: a promise of its reply (null if the socket went first).
  function control(msg) {
    if (!live()) return Promise.resolve(null);
    const r = ++ref, s = sock;
    return new Promise((resolve) => {
      pending.set(r, resolve);
      try {
        s.send(JSON.stringify(Object.assign(msg, { ref: r })));
      } catch {
        pending.delete(r);
        resolve(null);
      }
    });
  }

  // Upload the files chosen in `input` (once per choice: a submit during the upload waits for
  // it). Resolves with {ok, ids, reason}.
  function upload(input) {
    const sig = fileSig(input);
    const was = uploads.get(input);
    if (was && was.sig === sig && !was.cancelled) return was.promise;
    if (was) was.cancelled = true; // another choice replaces it (so does the server)
    const rec = { sig, promise: null, cancelled: false, progress: 0 };
    uploads.set(input, rec);
    rec.promise = sendUpload(input, rec).then((res) => {
      if (uploads.get(input) === rec) {
        if (!res.ok) uploads.delete(input);
        input.removeAttribute("data-progress");
      }
      emit("rweb:upload", { name: input.getAttribute("data-upload"), input, ok: res.ok, reason: res.reason || null });
      return res;
    });
    return rec.promise;
  }

  async function sendUpload(input, rec) {
    const name = input.getAttribute("data-upload");
    const files = Array.from(input.files || []);
    const s = sock;
    const reply = await control({
      t: T.UPLOAD, name, files: files.map((f) => ({ name: f.name, size: f.size, type: f.type || "" })),
    });
    if (!reply) return { ok: false, reason: "disconnected" };
    if (reply.e || !reply.up) return { ok: false, reason: reply.e ? reply.e.code : "refused" };
    if (rec.cancelled) return { ok: false, reason: "cancelled" };
    const { ids, chunk } = reply.up;
    let total = 0, sent = 0;
    for (const f of files) total += f.size;
    setProgress(input, rec, 0);
    for (let i = 0; i < files.length; i++) {
      const f = files[i];
      for (let at = 0; at < f.size; at += chunk) {
        while (sock === s && !rec.cancelled && s.bufferedAmount > UPLOAD_HIGH) await pause(5);
        if (sock !== s || !connected) return { ok: false, reason: "disconnected" };
        if (rec.cancelled) return { ok: false, reason: "cancelled" };
        const buf = await f.slice(at, at + chunk).arrayBuffer();
        if (sock !== s || !connected) return { ok: false, reason: "disconnected" };
        if (rec.cancelled) return { ok: false, reason: "cancelled" };
        const frame = new Uint8Array(5 + buf.byteLength);
        frame[0] = 1;
        new DataView(frame.buffer).setUint32(1, ids[i]);
        frame.set(new Uint8Array(buf), 5);
        try {
          s.send(frame);
        } catch {
          return { ok: false, reason: "disconnected" };
        }
        sent += buf.byteLength;
        setProgress(input, rec, Math.floor((sent * 100) / total));
      }
    }
    return { ok: true, ids };
  }

  function setProgress(input, rec, p) {
    rec.progress = p;
    if (input.getAttribute("data-progress") !== String(p)) input.setAttribute("data-progress", String(p));
  }

  // A morph syncs the attributes with the server's markup: put the uploads' progress back.
  function reprogress() {
    for (const [input, rec] of uploads) {
      if (input.isConnected && !rec.cancelled && input.hasAttribute("data-upload") &&
          !input.hasAttribute("data-progress") && rec.progress < 100) {
        input.setAttribute("data-progress", String(rec.progress));
      }
    }
  }

  // The server dropped upload `name` (cancelled by the app, or more bytes than declared):
  // stop sending its chunks; the file stays chosen, for the user to try again.
  function stopUploads(name) {
    for (const [input, rec] of Array.from(uploads)) {
      if (input.getAttribute("data-upload") !== name) continue;
      rec.cancelled = true;
      uploads.delete(input);
      input.removeAttribute("data-progress");
    }
  }

  // data-upload-cancel="name": stop sending, forget the choice, and the server drops the files.
  function cancelUpload(name) {
    stopUploads(name);
    for (const input of document.querySelectorAll(UPLOADS)) {
      if (input.getAttribute("data-upload") === name) input.value = "";
    }
    return control({ t: T.UPLOAD_CANCEL, name });
  }

  // A submit of a form with files chosen in its upload inputs: upload them, then send the
  // action (the form carries rweb-loading meanwhile); a refused, cancelled or interrupted
  // upload sends nothing (the page shows why: the server renders it).
  function submitWithUploads(form, inputs, action, params, opts) {
    count(loading, form, "rweb-loading");
    const submitter = opts.submitter && opts.submitter !== form ? opts.submitter : null;
    if (submitter) count(loading, submitter, "rweb-loading");
    const done = () => {
      uncount(loading, form, "rweb-loading");
      if (submitter) uncount(loading, submitter, "rweb-loading");
    };
    const promises = inputs.map(upload);
    const recs = inputs.map((input) => uploads.get(input));
    return Promise.all(promises).then((results) => {
      if (!results.every((r) => r.ok)) {
        done();
        return null;
      }
      inputs.forEach((input, i) => { params[input.name || input.getAttribute("data-upload")] = results[i].ids; });
      const reply = send(action, params, form, null, opts);
      done();
      // The files went with this action: a later submit uploads the choice again.
      inputs.forEach((input, i) => { if (uploads.get(input) === recs[i]) uploads.delete(input); });
      return reply.then((msg) => {
        // Answered without an error: the choice is cleared (unless the user chose again meanwhile).
        if (msg && !msg.e) inputs.forEach((input, i) => { if (fileSig(input) === recs[i].sig) input.value = ""; });
        return msg;
      });
    });
  }

  // -------------------------------------------------------------- events

  function paramsOf(el) {
    const params = {};
    for (const a of el.attributes) {
      if (a.name.startsWith(PARAM_PREFIX) && a.name.length > PARAM_PREFIX.length) {
        params[a.name.slice(PARAM_PREFIX.length)] = a.value;
      }
    }
    return params;
  }

  // The form's fields into `params`: a name that repeats gives an array.
  function formParams(form, submitter, params) {
    let fd;
    try {
      fd = new FormData(form, submitter || undefined);
    } catch {
      fd = new FormData(form);
    }
    const seen = new Set();
    for (let [k, v] of fd) {
      if (typeof v !== "string") v = v.name; // a File: its name only
      if (!seen.has(k)) {
        seen.add(k);
        params[k] = v;
      } else if (Array.isArray(params[k])) {
        params[k].push(v);
      } else {
        params[k] = [params[k], v];
      }
    }
    return params;
  }

  function fieldParams(el, bound) {
    const params = paramsOf(bound);
    if (bound.nodeName === "FORM") {
      formParams(bound, null, params);
      if (el.name) params._target = el.name;
      return params;
    }
    params.value = el.nodeName === "SELECT" && el.multiple ? Array.from(el.selectedOptions, (o) => o.value) : el.value;
    if (el.type === "checkbox" || el.type === "radio") params.checked = el.checked;
    return params;
  }

  const elementOf = (t) => (t instanceof Element ? t : t && t.parentElement);

  // ------------------------------------------------------- form recovery

  // What the user typed must survive a reconnect. Each form field's state (value, checkedness
  // or selected options) is compared with what the server has (`known`, else the rendered
  // default): what differs is put back after the morph of the reconnect's init and, for the
  // fields bound with data-oninput / data-onchange, sent again (once, the latest value).
  // Only on a reconnect: this costs nothing per message.

  const FIELDS = "input, select, textarea";

  // A control whose state the user sets (not hidden, file or button inputs).
  const editable = (el) =>
    el.nodeName === "INPUT" ? !/^(hidden|file|submit|reset|button|image)$/i.test(el.type) : true;

  const checkable = (el) => el.nodeName === "INPUT" && (el.type === "checkbox" || el.type === "radio");

  // A string that changes when what the user sees in the field changes.
  function stateOf(el) {
    if (checkable(el)) return el.checked ? "1" : "0";
    if (el.nodeName === "SELECT") return JSON.stringify(Array.from(el.selectedOptions, (o) => o.value));
    return el.value;
  }

  // The state the field had as rendered (its value / checked / selected attributes).
  function defaultStateOf(el) {
    if (checkable(el)) return el.defaultChecked ? "1" : "0";
    if (el.nodeName === "SELECT") {
      const opts = Array.from(el.options);
      let on = opts.filter((o) => o.defaultSelected);
      if (!el.multiple) {
        // The last one marked selected; else a drop-down shows the first one enabled.
        const first = el.size > 1 ? undefined : opts.find((o) => !o.disabled);
        on = on.length ? on.slice(-1) : first ? [first] : [];
      }
      return JSON.stringify(on.map((o) => o.value));
    }
    return el.defaultValue;
  }

  function setState(el, s) {
    if (checkable(el)) el.checked = s === "1";
    else if (el.nodeName === "SELECT") {
      const values = JSON.parse(s);
      for (const o of el.options) o.selected = values.includes(o.value);
    } else el.value = s;
  }

  // The state the server has for the field.
  const knownOf = (el) => (known.has(el) ? known.get(el) : defaultStateOf(el));

  // The field's binding: {bound, action} (data-oninput first), or null.
  function bindingOf(el) {
    for (const attr of ["data-oninput", "data-onchange"]) {
      const bound = el.closest("[" + attr + "]");
      if (bound) return { bound, action: bound.getAttribute(attr) };
    }
    return null;
  }

  // The field's state goes to the server (sent, or queued): it is known from now on.
  function noteSent(el) {
    const s = stateOf(el);
    known.set(el, s);
    return s;
  }

  // Send the bound action of field `el` with its params.
  function sendField(el, bound, action) {
    // A form's binding sends all of its fields.
    if (bound.nodeName === "FORM") for (const f of bound.elements) if (f !== el && editable(f)) noteSent(f);
    return send(action, fieldParams(el, bound), null, el);
  }

  // A key that finds a field again when the morph replaced its element: its id, else its
  // form (or component) and name (and value, for a checkbox or radio), and its rank
  // among the fields with the same key.
  function fieldKeys(fields) {
    const keys = new Map(), seen = new Map();
    for (const el of fields) {
      let k;
      if (el.id) k = "#" + el.id;
      else {
        const scope = el.form || el.closest("[data-rc]");
        let where = "";
        if (scope) {
          if (scope.id) where = "#" + scope.id;
          else if (scope.nodeName === "FORM") where = "form:" + (scope.getAttribute("name") ?? Array.prototype.indexOf.call(document.forms, scope));
          else where = "rc:" + scope.getAttribute("data-rc");
        }
        k = where + "|" + el.nodeName + "|" + (el.name || "") + (checkable(el) ? "=" + el.value : "");
      }
      const n = seen.get(k) || 0;
      seen.set(k, n + 1);
      keys.set(el, k + "|" + n);
    }
    return keys;
  }

  // Before a reconnect's init (`msg`) is morphed in: the fields whose state is the user's.
  //   resumed: those the server has not applied: their state differs from what it has,
  //            or is in an action it did not apply (queued, or sent after `last`)
  //   fresh:   those the user changed (they differ from what was rendered, or were sent)
  // A field whose value the server changed since it applied the user's stays as the server
  // has it. Unchecked radios are left out: checking another one of the group unchecks them.
  function capture(msg) {
    const fresh = msg.fresh === true, last = msg.last == null ? null : Number(msg.last);
    const waiting = new Set();
    for (const [r, a] of acts) {
      if (a.field && (fresh || a.on === null || typeof r !== "number" || last === null || !(r <= last))) waiting.add(a.field);
    }
    const out = [];
    const fields = Array.from(document.querySelectorAll(FIELDS)).filter((el) => editable(el) && !el.disabled);
    let keys = null;
    for (const el of fields) {
      if (el.readOnly || (el.type === "radio" && !el.checked)) continue;
      const s = stateOf(el);
      const mine = fresh
        ? s !== defaultStateOf(el) || known.get(el) === s
        : s !== knownOf(el) || (waiting.has(el) && known.get(el) === s);
      if (!mine) continue;
      keys = keys || fieldKeys(fields);
      out.push({ el, s, key: keys.get(el) });
    }
    return out;
  }

  // After the morph: put back the captured states the morph changed (on the same element,
  // or the one that replaced it). The fields restored.
  function restore(saved) {
    const restored = [];
    let byKey = null;
    for (const f of saved) {
      let el = f.el;
      if (!el.isConnected) {
        if (!byKey) {
          byKey = new Map();
          const fields = Array.from(document.querySelectorAll(FIELDS)).filter(editable);
          for (const [e, k] of fieldKeys(fields)) byKey.set(k, e);
        }
        el = byKey.get(f.key);
        if (!el || el.disabled || el.readOnly || checkable(el) !== checkable(f.el) || el.nodeName !== f.el.nodeName) continue;
      }
      if (stateOf(el) === f.s) continue;
      try {
        setState(el, f.s);
      } catch {
        continue; // a state this control cannot take (a value its type refuses)
      }
      restored.push(el);
    }
    return restored;
  }

  // After a reconnect's init and the actions it settled: send every bound field whose state
  // the server does not have (once per form for a form's binding), with its latest state;
  // rweb:recovered says which fields were restored and which were sent.
  function recover(fresh, restored) {
    // Debounced or throttled input not sent yet goes now, with the rest.
    for (const { id } of debounced.values()) clearTimeout(id);
    debounced.clear();
    for (const [key, t] of throttled) if (key.hasAttribute("data-oninput")) t.fire = null;
    const fields = [], forms = new Set();
    for (const el of document.querySelectorAll(FIELDS)) {
      if (!editable(el) || el.disabled || el.readOnly || (el.type === "radio" && !el.checked)) continue;
      const b = bindingOf(el);
      if (!b || stateOf(el) === knownOf(el)) continue;
      if (b.bound.nodeName === "FORM") {
        if (forms.has(b.bound)) continue;
        forms.add(b.bound);
      }
      sendField(el, b.bound, b.action);
      fields.push({ el, name: el.name || el.id || null, action: b.action, resent: true, restored: restored.includes(el) });
    }
    for (const el of restored) {
      if (!fields.some((f) => f.el === el)) fields.push({ el, name: el.name || el.id || null, action: null, resent: false, restored: true });
    }
    if (fields.length) emit("rweb:recovered", { fresh, fields });
  }

  // data-throttle="ms": at most one action per window of ms for `key`. The first one goes at
  // once and opens a window; those that come during the window are held, the latest one
  // replacing the others (`fire` sends it); at the window's end the one held, if any, goes
  // and opens the next window.
  function throttle(key, ms, fire) {
    const t = throttled.get(key);
    if (t) t.fire = fire;
    else {
      fire();
      throttleWindow(key, ms);
    }
  }

  function throttleWindow(key, ms) {
    const t = { id: 0, fire: null };
    t.id = setTimeout(() => {
      throttled.delete(key);
      if (t.fire) {
        t.fire();
        throttleWindow(key, ms);
      }
    }, ms);
    throttled.set(key, t);
  }

  // Send the action held back for `key` (data-debounce, data-throttle) now.
  function flushHeld(key) {
    const d = debounced.get(key);
    if (d) {
      clearTimeout(d.id);
      d.fire();
    }
    const t = throttled.get(key);
    if (t && t.fire) {
      const fire = t.fire;
      t.fire = null;
      fire();
    }
  }

  const throttleOf = (el) => parseInt(el.getAttribute("data-throttle"), 10);

  function onClick(e) {
    if (e.button !== 0) return;
    const t = elementOf(e.target);
    const c = t && t.closest("[data-upload-cancel]");
    if (c) {
      e.preventDefault();
      cancelUpload(c.getAttribute("data-upload-cancel"));
      return;
    }
    const el = t && t.closest("[data-action]");
    if (!el || el.nodeName === "FORM") return; // a form's action is sent on submit
    const tag = el.nodeName;
    if (tag === "A" || ((tag === "BUTTON" || tag === "INPUT") && el.form && /^(submit|image|reset)$/.test(el.type))) {
      e.preventDefault();
    }
    if (disabledWith.has(el)) return; // its action is under way (data-disable-with)
    const action = el.getAttribute("data-action"), params = paramsOf(el);
    const ms = throttleOf(el);
    if (ms > 0) throttle(el, ms, () => send(action, params, el));
    else send(action, params, el);
  }

  function onSubmit(e) {
    const form = e.target;
    if (!(form instanceof HTMLFormElement)) return;
    const action = form.getAttribute("data-action") ?? form.getAttribute("data-onsubmit");
    if (action === null) return;
    e.preventDefault();
    // What typing the form's bindings held back goes first.
    for (const key of [...debounced.keys(), ...throttled.keys()]) if (form.contains(key)) flushHeld(key);
    const seen = new Map();
    for (const f of form.elements) if (editable(f)) seen.set(f, stateOf(f));
    const params = formParams(form, e.submitter, paramsOf(form));
    const opts = { submitter: e.submitter, seen };
    const ups = Array.from(form.querySelectorAll(UPLOADS)).filter((i) => i.form === form || i.closest("form") === form);
    if (ups.length) {
      for (const i of ups) params[i.name || i.getAttribute("data-upload")] = [];
      const chosen = ups.filter((i) => i.files && i.files.length);
      if (chosen.length) {
        submitWithUploads(form, chosen, action, params, opts);
        return;
      }
    }
    send(action, params, form, null, opts);
  }

  function onField(e, attr) {
    const el = elementOf(e.target), bound = el && el.closest("[" + attr + "]");
    if (!bound) return;
    const action = bound.getAttribute(attr);
    const fire = () => {
      debounced.delete(bound);
      sendField(el, bound, action);
    };
    const was = debounced.get(bound);
    if (was) clearTimeout(was.id);
    const input = attr === "data-oninput";
    const throttleMs = input ? throttleOf(bound) : 0;
    if (throttleMs > 0) {
      debounced.delete(bound);
      throttle(bound, throttleMs, fire);
      return;
    }
    const ms = input ? parseInt(bound.getAttribute("data-debounce"), 10) : 0;
    if (ms > 0) debounced.set(bound, { id: setTimeout(fire, ms), fire });
    else fire();
  }

  function onChange(e) {
    const el = elementOf(e.target);
    if (el && el.matches(UPLOADS) && el.hasAttribute("data-upload-auto") && el.files && el.files.length) upload(el);
    // A change ends the typing: a debounced or throttled input is sent now.
    const bound = el && el.closest("[data-oninput]");
    if (bound) flushHeld(bound);
    onField(e, "data-onchange");
  }

  document.addEventListener("click", onJs, true);
  document.addEventListener("submit", onJs, true);
  document.addEventListener("click", onClick);
  document.addEventListener("click", onNavClick);
  window.addEventListener("popstate", onPopState);
  document.addEventListener("submit", onSubmit);
  document.addEventListener("input", (e) => onField(e, "data-oninput"));
  document.addEventListener("change", onChange);
  window.addEventListener("pagehide", () => { unloading = true; });
  window.addEventListener("pageshow", (e) => {
    unloading = false;
    if (e.persisted) {
      leaving = false;
      reconnectNow(); // back from the back/forward cache
    }
  });
  window.addEventListener("online", reconnectNow);

  // -------------------------------------------------------------- public

  window.rweb = {
    version: 1,
    /** Send an action: a promise of its reply (null: dropped). */
    send: (action, params) => send(action, params),
    /** Client hooks by name (see data-hook): rweb.hooks.Chart = {mounted() {...}, ...}. */
    hooks,
    /** Register a hook and attach it to the elements already on the page. */
    hook(name, def) {
      hooks[name] = def;
      syncHooks([]);
    },
    /** Run JS commands (as data-js holds them) on `el` (default: the body). */
    js: (cmds, el) => runJs(cmds, el || document.body),
    /** Show the app's `url` ("/items/3?x=1", within the root path) without a reload. */
    navigate(url, opts) {
      if (!isLocal(url)) throw new TypeError("rweb.navigate takes a path within the app");
      return navTo(url, opts && opts.replace ? "replace" : "push");
    },
    cookiesSet,
    /** The app URL (path and query within the root path) of the page shown. */
    get url() { return current; },
    get root() { config(); return root; },
    get connected() { return connected; },
    get components() { return comps; },
    /** Actions sent or queued and not answered yet. */
    get pending() { return acts.size; },
    get _socket() { return sock; },
    /** Tests: replace the resume token the next join presents. */
    set _token(v) { token = typeof v === "string" && v ? v : null; },
    /** Tests: handle one server message (its JSON text) as if the socket had delivered it. */
    _receive: (data) => onMessage({ data }),
    /** Connect again after disconnect(), or retry now while reconnecting. */
    connect() {
      stopped = false;
      reconnectNow();
    },
    /** Close the connection and stay disconnected until connect(). */
    disconnect() {
      stopped = true;
      clearTimeout(timer);
      timer = null;
      if (sock) sock.close(1000);
    },
    /** A component's HTML (with its children) as the store has it. */
    html: (name) => html(name || "root", 0),
    /** Morph an element into markup, as updates do. */
    morph(el, markup) {
      const to = typeof markup === "string" ? parse(markup) : markup;
      let out;
      keepFocus(() => { out = morph(el, to); });
      return out;
    },
  };

  const start = () => {
    installStyle();
    connect();
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
