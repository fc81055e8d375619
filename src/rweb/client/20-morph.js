/* Components and the morph.
 *
 * A component's HTML is s[0] + d[0] + s[1] + ... + s[n]; a dynamic is an
 * escaped HTML string or {"c": "<child name>"}. Its root element carries
 * data-rc="<name>". Each changed component is rebuilt and morphed in place.
 *
 * Form controls and the server's values: a changed value / checked / selected attribute in
 * the reply to one of this page's actions is applied, to the focused control too, unless the
 * user changed that control since the action went (or a later action, or typing held back by
 * data-debounce / data-throttle, carries its newer state); in a push it is never applied to
 * the focused control nor to one whose state the server has not seen (docs/forms.md).
 * A <dialog> shown modal in the browser stays open whatever the server renders (closed there).
 */

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
      case "DIALOG":
        // Shown modal (showModal(), a script's): it stays open until closed in the browser. Taking
        // its open attribute away and showing it again would move the focus, and make what the
        // dialog gives the focus back to on close the element focused then, not its opener.
        if (from.matches(":modal")) to.setAttribute("open", "");
      // falls through
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

  // A component's statics from their wire form: an integer n stands for n empty strings (a run
  // between dynamics that follow one another, e.g. a list of child components; docs/protocol.md).
  function expandStatics(s) {
    if (!s.some((x) => typeof x === "number")) return s;
    const out = [];
    for (const x of s) {
      if (typeof x === "number") for (let k = 0; k < x; k++) out.push("");
      else out.push(x);
    }
    return out;
  }

  // Apply `d` (or an init's `c`) to the store; the names of the components that changed.
  // A component sent like another ({"sl": name, "<slot>": value}: rows of one shape) is built
  // after the rest, from that component as this message leaves it (docs/protocol.md).
  function applyPatches(d) {
    const changed = [];
    let likes = null;
    for (const name in d) {
      const p = d[name];
      if (p === null) {
        delete comps[name];
      } else if (Array.isArray(p.s)) {
        comps[name] = { s: expandStatics(p.s), d: Array.isArray(p.d) ? p.d : [] };
        changed.push(name);
      } else if (typeof p.sl === "string") {
        (likes || (likes = [])).push(name);
      } else if (comps[name]) {
        const dyns = comps[name].d;
        for (const i in p) dyns[+i] = p[i];
        changed.push(name);
      } else {
        console.warn("rweb: patch for an unknown component", name);
      }
    }
    if (likes) {
      // Each after its model, which may be another of them (a name like "7" comes first here).
      const todo = new Set(likes);
      for (const name of likes) {
        const chain = [];
        for (let at = name; todo.has(at) && chain.length <= likes.length; at = d[at].sl) chain.push(at);
        for (let i = chain.length - 1; i >= 0; i--) {
          const n = chain[i], p = d[n], model = comps[p.sl];
          todo.delete(n);
          if (!model) {
            console.warn("rweb: component", n, "is sent like an unknown one", p.sl);
            continue;
          }
          const s = model.s.slice(), dyns = model.d.slice(), rc = rcAttr(n);
          s[0] = s[0].replace(rcAttr(p.sl), () => rc); // (a function: "$&" in a name is no pattern)
          for (const k in p) {
            if (k === "sl") continue;
            const v = p[k], i = +k;
            // [start, middle, end]: the model's value with its middle replaced
            dyns[i] = Array.isArray(v) ? dyns[i].slice(0, v[0]) + v[1] + dyns[i].slice(dyns[i].length - (v[2] || 0)) : v;
          }
          comps[n] = { s, d: dyns };
          changed.push(n);
        }
      }
    }
    return changed;
  }

  // A component's root element's data-rc attribute, as the server writes it (rweb.html.escape).
  const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;" };
  const rcAttr = (name) => ' data-rc="' + name.replace(/[&<>"']/g, (ch) => ESCAPES[ch]) + '"';

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

