/* rweb browser client: one WebSocket, server-rendered components, DOM morphing,
 * live navigation between the app's pages.
 *
 * Hand-written, no build step, no dependencies. The wire protocol is described in
 * docs/protocol.md. This file opens the closure that the other client/*.js files continue,
 * in the order of their names: rweb.client_script joins them into the one script served.
 *
 * window.rwebConfig (set before this script runs; all in ms): heartbeat (25000: ping after
 * that much silence), heartbeatWait (10000: no answer by then, the socket is dead),
 * restartBanner (2000: after a 1012 close, the banner waits that long for the socket),
 * busyDelay (200: rweb-busy after an action waited that long; 0: at once; -1: never, no events).
 */
(() => {
  "use strict";

  if (window.rweb && window.rweb.version) return; // loaded twice

  const MIN_DELAY = 200; // first reconnect delay (ms), doubled per failed attempt
  const MAX_DELAY = 10000;
  const MAX_DEPTH = 256; // component nesting: guards against reference cycles
  const COOKIE_WAIT = 5000; // a page load waits this long at most for pending cookie requests (ms)
  const LEAVE_WAIT = 15000; // a page load that has not unloaded the page by then did not happen (ms)
  const STALE_WAIT = 10000; // a tab reloads for a stale client at most once per STALE_WAIT ms
  const MAX_QUEUE = 100; // actions kept while disconnected (queued and unanswered); more are refused
  // Heartbeat: after HEARTBEAT ms without a message from the server the client
  // asks {"t":"ping"}; no answer within HEARTBEAT_WAIT ms means the socket is
  // dead (a sleeping laptop, a proxy that dropped it silently): reconnect.
  // Both can be set before this script runs: window.rwebConfig = {heartbeat, heartbeatWait}.
  const settings = (typeof window.rwebConfig === "object" && window.rwebConfig) || {};
  const HEARTBEAT = settings.heartbeat > 0 ? settings.heartbeat : 25000;
  const HEARTBEAT_WAIT = settings.heartbeatWait > 0 ? settings.heartbeatWait : 10000;
  // A socket closed with 1012 (the server restarts): retries come every RESTART_RETRY ms
  // (with jitter) for RESTART_BANNER ms after the close, and the banner shows only if the page
  // is still not connected then (window.rwebConfig.restartBanner; 0: at once).
  const RESTART_BANNER = settings.restartBanner >= 0 ? settings.restartBanner : 2000;
  const RESTART_RETRY = [100, 250];
  // The page is busy (class rweb-busy on <html>, a bar at the top, rweb:busy) once an action
  // has waited that long for its reply (window.rwebConfig.busyDelay; 0: at once; < 0: never).
  const BUSY_DELAY = typeof settings.busyDelay === "number" ? settings.busyDelay : 200;
  const PARAM_PREFIX = "data-param-";

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
  let flashToken = null; // <meta name="rweb-flash">: the flash messages the first paint showed, for the first join
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

