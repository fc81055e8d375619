/* The wire's words (docs/protocol.md, rweb/words/protocol.py). */

  /* rweb:wire:begin */
  // The wire's words (docs/protocol.md), generated from rweb.protocol.WIRE by
  // scripts/wire_table.py: edit them there. tests/test_wire.py checks this block.
  const T = Object.freeze({ INIT: "init", REPLY: "r", PUSH: "p", NAV: "nav", PING: "ping", UPLOAD: "upload", UPLOAD_CANCEL: "upload_cancel" });
  const FX = Object.freeze({ NAV: "nav", COOKIE: "cookie", RESET: "reset", FOCUS: "focus", JS: "js", STREAM: "stream", EVENT: "event", UPLOAD_STOP: "upload_stop" });
  const E = Object.freeze({ BAD_JSON: "bad_json", BAD_MESSAGE: "bad_message", BAD_PARAMS: "bad_params", BINARY_FRAME: "binary_frame", TOO_LARGE: "too_large", UNKNOWN_ACTION: "unknown_action", HANDLER_ERROR: "handler_error", RENDER_ERROR: "render_error", SETUP_ERROR: "setup_error", NOT_FOUND: "not_found", SHARED_STATE: "shared_state", UPLOAD_REFUSED: "upload_refused", UPLOAD_FAILED: "upload_failed", APP_FAILED: "app_failed", STALE_CLIENT: "stale_client" });
  const CLOSE = Object.freeze({ NORMAL: 1000, GOING_AWAY: 1001, NO_STATUS: 1005, ABNORMAL: 1006, POLICY_VIOLATION: 1008, INTERNAL_ERROR: 1011, SERVICE_RESTART: 1012, NO_HEARTBEAT: 4000 });
  /* rweb:wire:end */

  // The client's version, "<protocol>.<build>", joined with (vsn): rweb.client_script writes it in
  // when it joins the parts. A server with another version answers the join with stale_client.
  const VSN = "@rweb-client-version@";

