/* Client hooks, server events, JS commands.
 *
 *   data-js="[[cmd, {..}]]" JS commands (rweb.JS) run on click (a form: on submit), before the
 *                          element's action; a declined "confirm" stops both (docs/hooks.md)
 *   data-hook="Name"       a client hook (window.rwebHooks / rweb.hook): mounted, updated,
 *                          destroyed; this.pushEvent(action, params), this.handleEvent(name, fn);
 *                          data-hook-actions="a b" lists the actions it may send
 */

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

