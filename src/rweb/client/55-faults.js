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

