// fetch() for the log requests when the collector needs TLS material of the SDK's own (a private
// CA, a client certificate: OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_CERTIFICATE, _CLIENT_KEY).
// Node's global fetch takes no CA or certificate per request, only a dispatcher of undici's; undici's
// own fetch with its Agent (https://undici.nodejs.org/#/docs/api/Agent, `connect` = tls.connect
// options) does, without changing what the app's own requests trust. undici is loaded on the first
// request, so an SDK without such material never loads it.

import type { TlsFiles } from '../otel-env.ts';

/** Whether `tls` asks for anything Node's default TLS would not do. */
export function hasTls(tls: TlsFiles | undefined): tls is TlsFiles {
  return tls !== undefined && (tls.ca !== undefined || tls.cert !== undefined);
}

/** A fetch whose https connections use `tls`; the same contract as the global fetch. */
export function tlsFetch(tls: TlsFiles): typeof globalThis.fetch {
  let loaded: Promise<{ fetch: typeof globalThis.fetch; dispatcher: unknown }> | undefined;
  const load = () =>
    (loaded ??= import('undici').then((undici) => ({
      fetch: undici.fetch as unknown as typeof globalThis.fetch,
      dispatcher: new undici.Agent({ connect: { ...tls } }),
    })));
  return (async (input: Parameters<typeof globalThis.fetch>[0], init?: RequestInit) => {
    const { fetch, dispatcher } = await load();
    return fetch(input, { ...init, dispatcher } as RequestInit);
  }) as typeof globalThis.fetch;
}
