// OpenTelemetry's OTLP exporters read OTEL_EXPORTER_OTLP_HEADERS (and the per-signal form) from
// the environment themselves and add them under the headers they are given
// (@opentelemetry/otlp-exporter-base, mergeHeaders): a header the SDK left out with a warning
// because Node refuses to send it (a bad name, a line break in a value; otel-env.ts envHeaders)
// came back there, and Node then threw on every request, so every span and metric export failed.
// This drops such headers from what the exporter sends, at each request.
//
// It reaches into the exporter's internals (the delegate's HTTP transport parameters, as
// partial-success.ts reaches its serializer) and returns false, changing nothing, when they are not
// the expected ones.

import { sendableHeader } from '../otel-env.ts';

type Headers = Record<string, string>;

/** `headers` without those Node refuses to send: the SDK's config warning already named them. */
function sendable(headers: Headers): Headers {
  const out: Headers = {};
  for (const [name, value] of Object.entries(headers)) if (sendableHeader(name, value)) out[name] = value;
  return out;
}

export function dropUnsendableHeaders(exporter: object): boolean {
  const delegate = (exporter as { _delegate?: { _transport?: unknown } })._delegate;
  // RetryingTransport → HttpExporterTransport, whose parameters carry the headers function
  let transport = delegate?._transport as { _transport?: unknown; _parameters?: { headers?: unknown } } | undefined;
  for (let depth = 0; transport !== undefined && transport._parameters === undefined && depth < 3; depth++) {
    transport = transport._transport as typeof transport;
  }
  const parameters = transport?._parameters;
  const headers = parameters?.headers;
  if (typeof headers !== 'function') return false;
  parameters!.headers = async () => sendable(await (headers as () => Promise<Headers>)());
  return true;
}
