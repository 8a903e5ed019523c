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

import { isMainThread } from 'node:worker_threads';
import { init } from './index.ts';

if (isMainThread) init();
