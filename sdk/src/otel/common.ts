// Pieces the trace and metric pillars share: the OTel resource, the HTTP agents of the OTLP
// exporters, and export counters.
//
// Resource (OTel semantic conventions, https://opentelemetry.io/docs/specs/semconv/resource/):
// service.name, service.instance.id, host.name, process.pid, plus the SDK's telemetry.sdk.* from
// defaultResource(). The collector maps service.name → Prometheus `job` and service.instance.id →
// `instance`.
//
// Agents: one keep-alive agent per protocol for both OTLP exporters, so the SDK-wide shutdown can
// destroy their sockets once its deadline has passed (a hung collector then cannot keep the
// process alive through an open request).

import http from 'node:http';
import https from 'node:https';
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ResolvedOptions } from '../options.ts';

export function buildResource(opts: ResolvedOptions): Resource {
  return defaultResource().merge(
    resourceFromAttributes({
      'service.name': opts.service,
      'service.instance.id': opts.serviceInstanceId,
      'host.name': opts.hostname,
      'process.pid': process.pid,
    }),
  );
}

export interface ExportAgents {
  /** For the exporters' `httpAgentOptions` (an agent factory). */
  factory: (protocol: string) => http.Agent;
  destroy(): void;
}

export function createExportAgents(): ExportAgents {
  let httpAgent: http.Agent | undefined;
  let httpsAgent: https.Agent | undefined;
  return {
    factory: (protocol) =>
      protocol === 'https:'
        ? (httpsAgent ??= new https.Agent({ keepAlive: true, maxSockets: 4 }))
        : (httpAgent ??= new http.Agent({ keepAlive: true, maxSockets: 4 })),
    destroy() {
      httpAgent?.destroy();
      httpsAgent?.destroy();
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
