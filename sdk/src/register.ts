// Preload entry: `node --import @periscope/sdk/register app.js`, configured by PERISCOPE_* env and
// the OTel SDK variables options.ts reads (PERISCOPE_SERVICE or OTEL_SERVICE_NAME names the service,
// else it is OpenTelemetry's unknown_service:node, with a warning; PERISCOPE_INSTRUMENTATIONS=http to
// trace node:http). A bad value of theirs is ignored with a warning: it never stops the app.
// Starting the SDK before the app's first module is evaluated is the reliable way to instrument
// node:http: every module the app loads afterwards sees the patched module (see instrumentations.ts).
// The app gets the instance with getPeriscope() (or init(), which returns the running instance).
//
// Worker threads inherit --import from the process's execArgv, so this module also runs in every
// worker — including the SDK's own log-shipping worker. The SDK starts in the main thread only.
//
// `node --require @periscope/sdk/register app.js` (or NODE_OPTIONS=--require …, as OpenTelemetry's
// auto-instrumentations register is preloaded) loads this module with require(), which cannot load
// a module with a top-level await (ERR_REQUIRE_ASYNC_MODULE stopped the app before its first line):
// so there is none here, and the SDK is loaded with require() too, synchronously (Node loads an ES
// module graph without top-level await so, into the same module cache as import). Either way the
// SDK has started before the app's first module runs.

//
// Whatever happens here, the app starts (DESIGN.md: the SDK never hurts the app). The environment
// alone no longer makes init() throw (options.ts), but something else can stop it (no worker thread
// can be created for the log transport when a container's pids limit is reached, …): the error is
// reported as a process warning on stderr (code PERISCOPE_INIT_FAILED) and the app runs without
// the SDK; getPeriscope() returns undefined.

import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  try {
    // Loaded here, not imported statically: a package of the SDK's that cannot be loaded (missing
    // from the install, or of a version without an export the SDK imports) threw from the preload
    // as a failed init() did. Nor is the SDK loaded in the app's worker threads any more.
    // register.ts in the repository, dist/register.js in the package.
    const entry = import.meta.url.endsWith('.ts') ? './index.ts' : './index.js';
    const { init } = createRequire(import.meta.url)(entry) as typeof import('./index.ts');
    init();
  } catch (err) {
    try {
      process.emitWarning(`the SDK did not start, the app runs without it: ${(err as Error)?.message ?? String(err)}`, { type: 'PeriscopeWarning', code: 'PERISCOPE_INIT_FAILED' });
    } catch {
      // never throw into the host
    }
  }
}
