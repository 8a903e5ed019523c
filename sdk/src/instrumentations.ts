// OpenTelemetry instrumentations, opt-in by name (options.instrumentations / PERISCOPE_INSTRUMENTATIONS).
// Nothing is loaded unless named: an instrumentation module (and the require hook it installs,
// which makes every later `require` slower) costs start-up time only for the apps that ask for it.
//
// "http" — @opentelemetry/instrumentation-http: server and client spans for node:http/node:https
// and the http.server.request.duration / http.client.request.duration histograms (stable HTTP
// semantic conventions, https://opentelemetry.io/docs/specs/semconv/http/).
//
// How node:http gets patched: the instrumentation hooks CommonJS `require` (require-in-the-middle);
// this module then requires 'http' and 'https' itself, which patches their exports objects — the
// same objects ESM `import http from 'node:http'` sees — and calls module.syncBuiltinESMExports()
// so named ESM imports (`import { request } from 'node:http'`) see the patched functions too.
// Servers are instrumented through http.Server.prototype.emit, so servers created from an earlier
// import still work; what is NOT covered is a reference to http.request/get an app module copied
// before init() (e.g. `const { get } = require('http')` evaluated before init) — hence: call
// init() first in the entry module, or preload with `node --import @periscope/sdk/register`.
// fetch() (undici) is not covered by this instrumentation.
//
// The SDK's own traffic is not instrumented: requests to the collector origin (OTLP exports) and
// requests to the app's Prometheus port are ignored; the log shipper runs in a worker thread,
// which has its own, unpatched, modules.

import { createRequire, syncBuiltinESMExports } from 'node:module';
import type { IncomingMessage, RequestOptions } from 'node:http';
import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import type { InstrumentationName } from './options.ts';

// Made when first used: import.meta.url is undefined in a CommonJS bundle, where createRequire()
// threw as the bundle loaded, before init() could say the SDK cannot run from a bundle (logs/index.ts).
const require = (id: string): unknown => createRequire(import.meta.url)(id);

export interface InstrumentationContext {
  tracerProvider: TracerProvider | undefined;
  meterProvider: MeterProvider | undefined;
  /** The URLs the SDK sends to (the collector's, a signal's own endpoint): requests to their origins are not instrumented. */
  endpoints: string[];
  /** The app's own Prometheus port, if any: scrapes are not instrumented. */
  prometheusPort: number | undefined;
}

export interface LoadedInstrumentations {
  names: InstrumentationName[];
  /** Unpatches everything (after shutdown). */
  disable(): void;
}

function defaultPort(protocol: string): string {
  return protocol === 'https:' ? '443' : '80';
}

function startHttp(ctx: InstrumentationContext): () => void {
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const origins = new Set(
    ctx.endpoints.map((endpoint) => {
      const url = new URL(endpoint);
      return `${url.hostname.replace(/^\[|\]$/g, '')}:${url.port || defaultPort(url.protocol)}`;
    }),
  );
  const isCollector = (o: RequestOptions): boolean => {
    const host = (o.hostname ?? o.host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    const port = String(o.port ?? defaultPort(o.protocol ?? 'http:'));
    return origins.has(`${host}:${port}`);
  };
  const isScrape = (req: IncomingMessage): boolean =>
    ctx.prometheusPort !== undefined && req.socket?.localPort === ctx.prometheusPort;

  // created disabled, given our providers (absent: the global ones, no-ops), then enabled
  const instrumentation = new HttpInstrumentation({
    enabled: false,
    ignoreOutgoingRequestHook: isCollector,
    ignoreIncomingRequestHook: isScrape,
  });
  if (ctx.tracerProvider) instrumentation.setTracerProvider(ctx.tracerProvider);
  if (ctx.meterProvider) instrumentation.setMeterProvider(ctx.meterProvider);
  instrumentation.enable();
  // trigger require-in-the-middle for the core modules (see the top of this file)
  require('http');
  require('https');
  syncBuiltinESMExports();
  return () => instrumentation.disable();
}

export function loadInstrumentations(names: InstrumentationName[], ctx: InstrumentationContext): LoadedInstrumentations {
  const disablers: Array<() => void> = [];
  for (const name of names) {
    if (name === 'http') disablers.push(startHttp(ctx));
  }
  return {
    names,
    disable() {
      for (const d of disablers) {
        try {
          d();
        } catch {
          // best effort
        }
      }
      try {
        syncBuiltinESMExports();
      } catch {
        // best effort
      }
    },
  };
}
