/* Actions: sending, queueing while disconnected, pending and busy states.
 *
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
 */

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

