/* The page's API: window.rweb, and the window events.
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
 */

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
