/* Bindings (delegated on document), form fields and form recovery.
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
 *
 * Form recovery: what the user typed survives a reconnect. While disconnected, a field's
 * data-oninput / data-onchange action is queued once (its latest value replaces the one it
 * queued last). Before a resumed or fresh init is morphed in, the fields whose state is the
 * user's are captured, and put back if the morph changed them (bound or not: a login form
 * keeps what was typed). Then every bound field whose state the server does not have (not
 * sent, debounced, or, after a fresh session, changed from what the new page renders) sends
 * its action once, after the queued actions; rweb:recovered lists them. A field the server
 * changed after it applied the user's value keeps the server's.
 */

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

  // What a field's captured state fits: another element of the same kind.
  const kindOf = (el) => el.nodeName + (checkable(el) ? ":check" : "");

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
      out.push({ el, s, key: keys.get(el), kind: kindOf(el) });
    }
    return out;
  }

  // After the morph: put back the captured states the morph changed (on the same element,
  // or the one that replaced it; `el` null: kept through a reload). The fields restored.
  function restore(saved) {
    const restored = [];
    let byKey = null;
    for (const f of saved) {
      let el = f.el;
      if (!el || !el.isConnected) {
        if (!byKey) {
          byKey = new Map();
          const fields = Array.from(document.querySelectorAll(FIELDS)).filter(editable);
          for (const [e, k] of fieldKeys(fields)) byKey.set(k, e);
        }
        el = byKey.get(f.key);
        if (!el || el.disabled || el.readOnly || kindOf(el) !== f.kind) continue;
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

  // Through a reload (a stale client, see staleReload()): the fields the user changed, kept in
  // sessionStorage for this tab and URL until the page is back (never a password).
  const KEPT = "rweb:fields";
  const here = () => location.pathname + location.search;

  function keepFields() {
    const fields = capture({ fresh: true }).filter((f) => f.el.type !== "password");
    try {
      sessionStorage.setItem(KEPT, JSON.stringify({ url: here(), fields: fields.map((f) => [f.key, f.s, f.kind]) }));
    } catch {
      // no storage: the reload loses them
    }
  }

  // The fields keepFields() kept for this URL, once (null: none).
  function keptFields() {
    let kept;
    try {
      kept = JSON.parse(sessionStorage.getItem(KEPT));
      if (kept) sessionStorage.removeItem(KEPT);
    } catch {
      return null;
    }
    if (!kept || kept.url !== here() || !Array.isArray(kept.fields)) return null;
    return kept.fields.map(([key, s, kind]) => ({ el: null, key, s, kind }));
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

