// Pieces the trace and metric pillars share: the OTel resource, the HTTP agents of the OTLP
// exporters, and export counters.
//
// Resource (OTel semantic conventions, https://opentelemetry.io/docs/specs/semconv/resource/):
// service.name, service.instance.id, host.name, process.pid, over the attributes of
// OTEL_RESOURCE_ATTRIBUTES (options.ts), over what @opentelemetry/resources' hostDetector and
// processDetector find (host.arch, host.id, process.runtime.name/version, process.executable.*,
// process.owner … as the OTel Node SDK sends by default), over the SDK's telemetry.sdk.* from
// defaultResource() (later merges win, https://opentelemetry.io/docs/specs/otel/resource/sdk/#merge).
// Left out: process.command_args (and process.command_line), the whole command line, which may
// carry a secret and would be a label of every target_info series. The collector maps service.name → Prometheus `job` and service.instance.id →
// `instance`.
//
// Agents: keep-alive agents per OTLP exporter (each signal may have its own TLS), so the SDK-wide shutdown can
// close them once its deadline has passed (a hung collector then cannot keep the process alive
// through an open request or a retry).

import http from 'node:http';
import https from 'node:https';
import { defaultResource, emptyResource, hostDetector, processDetector, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ResolvedOptions } from '../options.ts';
import type { TlsFiles } from '../otel-env.ts';

/** What hostDetector and processDetector find, without the command line; never throws (init() must not). */
function hostAndProcess(): Resource {
  try {
    const { 'process.command_args': _args, 'process.command_line': _line, ...proc } = processDetector.detect().attributes ?? {};
    return resourceFromAttributes({ ...hostDetector.detect().attributes, ...proc });
  } catch {
    return emptyResource();
  }
}

export function buildResource(opts: ResolvedOptions): Resource {
  return defaultResource()
    .merge(hostAndProcess())
    .merge(resourceFromAttributes(opts.resourceAttributes))
    .merge(
      resourceFromAttributes({
        'service.name': opts.service,
        'service.instance.id': opts.serviceInstanceId,
        'host.name': opts.hostname,
        'process.pid': process.pid,
      }),
    );
}

/**
 * The resource attributes of buildResource that a log record's header fields do not carry
 * (appName = service.name, hostname = host.name, procId = process.pid), for the logs' `resource`
 * attribute (record.ts attachResource); undefined when there are none. Left out: telemetry.sdk.*
 * (the SDK's, the same on every record), and service.instance.id while it is the default
 * "<hostname>:<pid>", which the header fields already tell.
 */
export function logResourceAttributes(opts: ResolvedOptions): Record<string, string> | undefined {
  const attributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(opts.resourceAttributes)) {
    if (key === 'service.name' || key === 'host.name' || key === 'process.pid' || value === undefined) continue;
    attributes[key] = String(value);
  }
  if (opts.serviceInstanceId !== `${opts.hostname}:${process.pid}`) attributes['service.instance.id'] = opts.serviceInstanceId;
  else delete attributes['service.instance.id'];
  return Object.keys(attributes).length > 0 ? attributes : undefined;
}

export interface ExportAgents {
  /** For one exporter's `httpAgentOptions`: an agent factory whose https agent uses `tls` (the signal's CA and client certificate). */
  factory(tls: TlsFiles): (protocol: string) => http.Agent;
  /**
   * Ends every request and refuses new connections from then on, with a plain error that the
   * exporter does not retry. `Agent.destroy()` alone is not enough: a request cut that way fails
   * with ECONNRESET, which the exporter retries (opening a new socket to the hung collector after
   * a backoff), keeping the process alive up to its export timeout.
   */
  close(): void;
}

const SHUT_DOWN = 'periscope: the SDK is shut down';

/** A keep-alive agent that can be closed for good (ExportAgents.close). */
function closableAgent<A extends http.Agent>(agent: A): A & { close(): void } {
  let closed = false;
  const createConnection = agent.createConnection.bind(agent);
  // https://nodejs.org/api/http.html#agentcreateconnectionoptions-callback: errors go to the callback.
  agent.createConnection = ((options: unknown, callback?: (err: Error | null, socket?: unknown) => void) => {
    if (!closed) return createConnection(options as never, callback as never);
    callback?.(new Error(SHUT_DOWN));
    return undefined;
  }) as typeof agent.createConnection;
  return Object.assign(agent, {
    close() {
      closed = true;
      for (const sockets of Object.values(agent.sockets)) for (const socket of sockets ?? []) socket.destroy(new Error(SHUT_DOWN));
      agent.destroy(); // the idle ones
    },
  });
}

export function createExportAgents(): ExportAgents {
  const agents: Array<{ close(): void }> = [];
  let closed = false;
  const track = <A extends { close(): void }>(agent: A): A => {
    agents.push(agent);
    if (closed) agent.close();
    return agent;
  };
  return {
    factory(tls) {
      let httpAgent: (http.Agent & { close(): void }) | undefined;
      let httpsAgent: (https.Agent & { close(): void }) | undefined;
      return (protocol) =>
        protocol === 'https:'
          ? (httpsAgent ??= track(closableAgent(new https.Agent({ keepAlive: true, maxSockets: 4, ...tls }))))
          : (httpAgent ??= track(closableAgent(new http.Agent({ keepAlive: true, maxSockets: 4 }))));
    },
    close() {
      closed = true;
      for (const agent of agents) agent.close();
    },
  };
}

/** Export outcome counters of one OTLP exporter (items = spans, or metric exports). */
export interface ExportCounters {
  exported: number;
  failed: number;
}

/** Resolves when `promise` settles or at `deadlineAt`, whichever is first; never rejects. */
export function untilDeadline(promise: Promise<unknown>, deadlineAt: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, deadlineAt - Date.now()));
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    promise.then(done, done);
  });
}
