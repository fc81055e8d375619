/* The wire's words (docs/protocol.md, rweb/protocol.py). */

  const SERVICE_RESTART = 1012;
  // The client's version, "<protocol>.<build>", joined with (vsn): rweb.client_script writes it in
  // when it joins the parts. A server with another version answers the join with stale_client.
  const VSN = "@rweb-client-version@";

