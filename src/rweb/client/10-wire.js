/* The wire's words (docs/protocol.md, rweb/protocol.py). */

  const SERVICE_RESTART = 1012;

