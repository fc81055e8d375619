/* rweb browser client: one WebSocket, server-rendered components, DOM morphing.
 *
 * Hand-written, no build step, no dependencies. The wire protocol is described
 * in docs/protocol.md. In short:
 *   client -> server  {"action": "inc", "params": {...}, "ref": 7}
 *   server -> client  {"t": "init", "c": {name: {"s": [...], "d": [...]}}}
 *                     {"t": "r", "d": {name: patch | null}, "ref": 7, "e": {...}}
 *                     {"t": "p", "d": {...}}
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
 *
 * Window events:
 *   rweb:connected     {msg}             an init arrived (first connection or reconnect)
 *   rweb:disconnected  {}                the connection was lost (the page shows it)
 *   rweb:update        {components, msg} after the DOM was updated for init, r or p
 *   rweb:error         {code, message, ref, t}  a reply or push carried an error
 *
 * window.rweb: send(action, params) -> Promise<reply | null>, connected,
 * components, connect(), disconnect(), html(name), morph(el, markup).
 */
(() => {
  "use strict";

  if (window.rweb && window.rweb.version) return; // loaded twice

  const MIN_DELAY = 200; // first reconnect delay (ms), doubled per failed attempt
  const MAX_DELAY = 10000;
  const MAX_DEPTH = 256; // component nesting: guards against reference cycles
  const PARAM_PREFIX = "data-param-";
  const STYLE =
    "#rweb-status{display:none}" +
    "html.rweb-disconnected #rweb-status{display:block;position:fixed;top:0;left:0;right:0;" +
    "padding:4px 8px;background:#b00020;color:#fff;font:14px sans-serif;text-align:center;z-index:2147483647}";

  const comps = Object.create(null); // name -> {s: [...], d: [...]}
  const pending = new Map(); // ref -> resolve of send()'s promise
  const debounced = new Map(); // element -> timeout id
  const tpl = document.createElement("template");
  let sock = null; // the current WebSocket, or null
  let connected = false; // the current socket's init arrived
  let down = false; // the disconnected state is shown
  let stopped = false; // rweb.disconnect() was called
  let unloading = false;
  let attempt = 0; // failed connection attempts in a row
  let timer = null;
  let ref = 0;

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

  // Morph `from` (in the page) into `to` (parsed); returns the node now in the page.
  //
  // Form controls: the value, checkedness and selectedness of a control follow
  // the server when its value / checked / selected attribute changed, except
  // on the control that has focus. A control the server renders the same way
  // as before keeps what the user typed or ticked.
  function morph(from, to) {
    if (!compatible(from, to)) {
      from.parentNode.replaceChild(to, from);
      return to;
    }
    if (from.nodeType !== 1) {
      if (from.nodeValue !== to.nodeValue) from.nodeValue = to.nodeValue;
      return from;
    }
    if (from.isEqualNode(to)) return from;
    const busy = editing(from);
    switch (from.nodeName) {
      case "INPUT": {
        const oldValue = from.getAttribute("value"), oldChecked = from.hasAttribute("checked");
        syncAttrs(from, to);
        if (!busy) {
          const value = to.getAttribute("value"), checked = to.hasAttribute("checked");
          if (value !== oldValue && from.type !== "file" && from.value !== (value ?? "")) from.value = value ?? "";
          if (checked !== oldChecked && from.checked !== checked) from.checked = checked;
        }
        return from;
      }
      case "TEXTAREA": {
        syncAttrs(from, to);
        const text = to.value; // a parsed textarea's value is its text
        if (from.defaultValue !== text) {
          from.defaultValue = text; // the value follows unless the user edited it
          if (!busy && from.value !== text) from.value = text;
        }
        return from;
      }
      case "OPTION": {
        const was = from.hasAttribute("selected"), is = to.hasAttribute("selected");
        syncAttrs(from, to);
        if (!busy && was !== is && from.selected !== is) from.selected = is;
        break;
      }
      default:
        syncAttrs(from, to);
    }
    morphChildren(from, to);
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
    let names = [];
    if (msg.t === "init") {
      for (const k in comps) delete comps[k];
      const c = msg.c || {};
      for (const k in c) comps[k] = { s: c[k].s, d: c[k].d || [] };
      if (comps.root) {
        names = ["root"];
        keepFocus(() => {
          if (!render("root")) console.warn('rweb: no [data-rc="root"] element on the page');
        });
      }
      connected = true;
      attempt = 0;
      setDown(false);
      emit("rweb:connected", { msg });
      emit("rweb:update", { components: names, msg });
    } else if (msg.t === "r" || msg.t === "p") {
      if (msg.d && typeof msg.d === "object") {
        names = topmost(applyPatches(msg.d));
        update(names);
      }
      emit("rweb:update", { components: names, msg });
    }
    if (msg.e) {
      console.warn("rweb:", msg.e.code, msg.e.message);
      emit("rweb:error", { code: msg.e.code, message: msg.e.message, ref: msg.ref, t: msg.t });
    }
    if (msg.t === "r" && msg.ref != null) {
      const resolve = pending.get(msg.ref);
      if (resolve) {
        pending.delete(msg.ref);
        resolve(msg);
      }
    }
  }

  // Send an action. Resolves with the server's reply once the DOM is updated,
  // or with null if it was dropped (not connected) or the connection was lost
  // before the reply. Nothing is queued while disconnected.
  function send(action, params) {
    if (!connected || !sock || sock.readyState !== WebSocket.OPEN) return Promise.resolve(null);
    const r = ++ref;
    const data = JSON.stringify({ action: String(action), params: params || {}, ref: r });
    return new Promise((resolve) => {
      pending.set(r, resolve);
      try {
        sock.send(data);
      } catch {
        pending.delete(r);
        resolve(null);
      }
    });
  }

  // ------------------------------------------------------ the connection

  function installStyle() {
    // First in <head>, so that the page's own styles override it.
    if (document.getElementById("rweb-style")) return;
    const st = document.createElement("style");
    st.id = "rweb-style";
    st.textContent = STYLE;
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
    if (el) el.textContent = on ? (stopped ? "Disconnected" : "Reconnecting\u2026") : "";
    if (on && !was) emit("rweb:disconnected", {});
  }

  const wsUrl = () =>
    (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws" + location.search;

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
    s.onmessage = (ev) => {
      if (sock === s) onMessage(ev);
    };
    s.onclose = () => {
      if (sock !== s) return;
      sock = null;
      onDown();
    };
    s.onerror = () => { /* a close event follows */ };
  }

  function onDown() {
    connected = false;
    const waiting = Array.from(pending.values());
    pending.clear();
    for (const resolve of waiting) resolve(null);
    for (const id of debounced.values()) clearTimeout(id);
    debounced.clear();
    if (unloading) return; // leaving the page: no banner, no reconnect
    setDown(true);
    if (!stopped) reconnectLater();
  }

  function reconnectLater() {
    clearTimeout(timer);
    const base = Math.min(MAX_DELAY, MIN_DELAY * 2 ** attempt);
    attempt++;
    // Jitter: after a server restart, its clients come back spread out.
    timer = setTimeout(connect, base / 2 + Math.random() * (base / 2));
  }

  function reconnectNow() {
    if (sock || stopped || unloading) return;
    attempt = 0;
    connect();
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

  function onClick(e) {
    if (e.button !== 0) return;
    const t = elementOf(e.target), el = t && t.closest("[data-action]");
    if (!el || el.nodeName === "FORM") return; // a form's action is sent on submit
    const tag = el.nodeName;
    if (tag === "A" || ((tag === "BUTTON" || tag === "INPUT") && el.form && /^(submit|image|reset)$/.test(el.type))) {
      e.preventDefault();
    }
    send(el.getAttribute("data-action"), paramsOf(el));
  }

  function onSubmit(e) {
    const form = e.target;
    if (!(form instanceof HTMLFormElement)) return;
    const action = form.getAttribute("data-action") ?? form.getAttribute("data-onsubmit");
    if (action === null) return;
    e.preventDefault();
    send(action, formParams(form, e.submitter, paramsOf(form)));
  }

  function onField(e, attr) {
    const el = elementOf(e.target), bound = el && el.closest("[" + attr + "]");
    if (!bound) return;
    const action = bound.getAttribute(attr);
    const fire = () => {
      debounced.delete(bound);
      send(action, fieldParams(el, bound));
    };
    clearTimeout(debounced.get(bound));
    const ms = attr === "data-oninput" ? parseInt(bound.getAttribute("data-debounce"), 10) : 0;
    if (ms > 0) debounced.set(bound, setTimeout(fire, ms));
    else fire();
  }

  function onChange(e) {
    // A change ends the typing: a debounced input is sent now.
    const el = elementOf(e.target), bound = el && el.closest("[data-oninput]");
    if (bound && debounced.has(bound)) {
      clearTimeout(debounced.get(bound));
      debounced.delete(bound);
      send(bound.getAttribute("data-oninput"), fieldParams(el, bound));
    }
    onField(e, "data-onchange");
  }

  document.addEventListener("click", onClick);
  document.addEventListener("submit", onSubmit);
  document.addEventListener("input", (e) => onField(e, "data-oninput"));
  document.addEventListener("change", onChange);
  window.addEventListener("pagehide", () => { unloading = true; });
  window.addEventListener("pageshow", (e) => {
    unloading = false;
    if (e.persisted) reconnectNow(); // back from the back/forward cache
  });
  window.addEventListener("online", reconnectNow);

  // -------------------------------------------------------------- public

  window.rweb = {
    version: 1,
    send,
    get connected() { return connected; },
    get components() { return comps; },
    get _socket() { return sock; },
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
