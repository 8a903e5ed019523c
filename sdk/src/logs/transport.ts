// pino transport (runs in pino's worker thread; loaded via pino.transport({ target: this file })).
// https://getpino.io/#/docs/transports, built with pino-abstract-transport.
//
// Contract with the main thread (logger.ts):
// - options: TransportOptions below; `shared` is the SharedArrayBuffer of stats.ts.
// - every pino JSON line → recordFromPino(line, defaults) → NDJSON line → Shipper (bounded buffer),
//   unless `ship` is false (OTEL_SDK_DISABLED), and, when `format` is not "none", also to stdout in
//   that format (fd 1, written from here).
// - destination.flush() (thread-stream calls it for logger.flush(cb) / transport.flush(cb)):
//   after the main thread requested shutdown (stats.ts requestShutdown) it drains to the shared
//   deadline and sets the `drained` flag; otherwise it sends what is queued without dropping.
// - close (stream end: transport.end(), pino's exit hook): drain to the deadline, set `drained`.
//   thread-stream's end() blocks the main thread until this close finishes.
// Nothing here may throw into the worker's event loop: an uncaught error would kill the worker
// (and with it shipping), so every callback is guarded.

import build from 'pino-abstract-transport';
import { parentPort } from 'node:worker_threads';
import { DELIVERY_PROBLEM_EVENT } from './delivery-problem.ts';
import pino from 'pino';
import { parseJsonExact } from '../exact-json.ts';
import { attachResource, recordFromPino, severityFromPino } from '../record.ts';
import { Shipper, type ShipperOptions } from './shipper.ts';
import { consoleFormatter } from './formats.ts';
import { sharedState, shutdownDeadline, markDrained } from './stats.ts';
import type { LogFormat } from '../options.ts';

export interface TransportOptions extends ShipperOptions {
  /** false (OTEL_SDK_DISABLED, OTEL_LOGS_EXPORTER=none): records go to the console format only, nothing is sent. */
  ship: boolean;
  /** Resource attributes no header field carries (otel/common.ts logResourceAttributes), or none. */
  resource: Record<string, string> | undefined;
  service: string;
  hostname: string;
  pid: number;
  facility: number;
  format: LogFormat;
  shutdownTimeoutMs: number;
  shared: SharedArrayBuffer;
}

export default async function periscopeTransport(opts: TransportOptions) {
  const state = sharedState(opts.shared);
  // Each delivery problem once to the main thread, which warns (delivery-problem.ts).
  const told = new Set<string>();
  const shipper = new Shipper(opts, state, {
    onProblem: (problem) => {
      if (told.has(problem.key) || !parentPort) return;
      told.add(problem.key);
      parentPort.postMessage({ code: 'EVENT', name: DELIVERY_PROBLEM_EVENT, args: [problem] });
    },
  });
  const defaults = { appName: opts.service, hostname: opts.hostname, procId: String(opts.pid), facility: opts.facility };
  const format = consoleFormatter(opts.format, opts.service);
  // fd 1 written synchronously from this thread: output survives the main thread blocking at exit.
  const stdout = format ? pino.destination({ dest: 1, sync: true }) : undefined;
  stdout?.on('error', () => {}); // EPIPE etc.: console output is best effort, shipping goes on

  const deadline = () => shutdownDeadline(state) ?? Date.now() + opts.shutdownTimeoutMs;
  let closing: Promise<void> | undefined;

  const stream = build(
    (source) => {
      // 'data' handlers run synchronously per line, so every line written before end() is
      // queued before close() runs.
      source.on('data', (line: Record<string, unknown>) => {
        try {
          // overload fast path: the buffer would refuse this record, don't build it
          if (!opts.ship && !format) return;
          if (!format && shipper.dropEarly(severityFromPino(typeof line.level === 'number' ? line.level : 30))) return;
          const record = attachResource(recordFromPino(line, defaults), opts.resource);
          const json = `${JSON.stringify(record)}\n`;
          if (opts.ship) shipper.add(record.severity, json);
          if (format && stdout) stdout.write(format(line, record, json));
        } catch {
          // a malformed line must not stop the stream
        }
      });
    },
    {
      // pino writes a BigInt (`logger.info({ id: 2n ** 64n })`) as its exact digits: kept as a string.
      parseLine: parseJsonExact,
      close: () =>
        (closing ??= (async () => {
          await shipper.shutdown(deadline());
          shipper.dispose();
          try {
            stdout?.flushSync();
          } catch {
            // stdout closed: nothing to do
          }
          markDrained(state);
        })()),
    },
  );

  Object.assign(stream, {
    flush: async () => {
      if (shutdownDeadline(state) !== undefined) {
        await shipper.shutdown(deadline());
        markDrained(state);
      } else {
        await shipper.flush(opts.shutdownTimeoutMs);
      }
    },
  });
  return stream;
}
