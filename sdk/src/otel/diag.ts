// OpenTelemetry's own diagnostic messages (@opentelemetry/api `diag`: an exporter's failure, a
// dropped span, a global registered twice …) logged by the SDK when OTEL_LOG_LEVEL asks for them,
// as @opentelemetry/sdk-node logs them to the console then. They go through the SDK's internal
// logger (module "opentelemetry", shipped like its other warnings); the level filter is diag's, so
// the logger's own level is not in the way. Never throws into the host.

import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import type { Logger } from 'pino';

type PinoMethod = 'error' | 'warn' | 'info' | 'debug' | 'trace';

function describe(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value); // circular
  }
}

/** Installs the diag logger at `level`; returns its removal (for shutdown). */
export function logDiagnostics(internalLogger: Logger, level: DiagLogLevel): () => void {
  const logger = internalLogger.child({ module: 'opentelemetry' }, { level: 'trace' });
  const to = (method: PinoMethod) => (message: string, ...args: unknown[]) => {
    try {
      if (args.length === 0) logger[method](message);
      else logger[method]({ details: args.map(describe) }, message);
    } catch {
      // never throw into the host
    }
  };
  const diagLogger: DiagLogger = { error: to('error'), warn: to('warn'), info: to('info'), debug: to('debug'), verbose: to('trace') };
  diag.setLogger(diagLogger, { logLevel: level, suppressOverrideMessage: true });
  return () => diag.disable();
}
