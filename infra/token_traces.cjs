// Preloaded into Node.js processes by infra/__init__.py (NODE_OPTIONS=--require); acts only in the jsii runtime
// that runs the provider bindings for Python (jsii sets JSII_AGENT there).
//
// cdktf records a full JavaScript stack trace for every token it creates (each reference such as
// ${azurerm_key_vault.x.id}, each nested block of a resource) to show where a token was made if it later fails to
// resolve. Under jsii those frames are the runtime's own, never the Python line that made the token, and capturing
// and formatting them was a fifth of the runtime's synth time. cdktf captures them onto plain objects, never onto
// Errors: skip those captures (the trace comes out empty) and leave every Error's stack as it was.
// PLATFORM_TOKEN_TRACES=1 keeps them.
"use strict";

if (process.env.JSII_AGENT && process.env.PLATFORM_TOKEN_TRACES !== "1") {
  const captureStackTrace = Error.captureStackTrace;
  Error.captureStackTrace = function captureErrorStackTraces(target, below) {
    if (target instanceof Error) {
      return captureStackTrace(target, below ?? captureErrorStackTraces); // keep this wrapper out of the trace
    }
    target.stack = "";
  };
}
