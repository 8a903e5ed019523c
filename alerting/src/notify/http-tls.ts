// The `tls:` and proxy of an HTTP channel (Slack, webhook, SMS; docs/alerting-notifications.md,
// TLS and Proxies): a connection pool of its own (tls.ts tlsConnector: the CA, a client
// certificate, the server name, the lowest version, the files read again when they change;
// proxy.ts ownDispatcher: through the proxy, the TLS above inside its tunnel), opened at start
// and closed at shutdown. Without either a channel sends with the process-wide fetch, as before.
//
// Node's own fetch takes no dispatcher of the undici package (its bundled undici is another
// version): a channel with `tls:` or a proxy sends with the package's fetch.
import type { ConnectionOptions } from 'node:tls';
import type { Dispatcher } from 'undici';
import { ALERT_ERR, AlertError } from '../errors.ts';
import { loadTls, tlsConnector, type TlsConfig } from '../tls.ts';
import { displayProxy, ownDispatcher, proxySecrets } from '../proxy.ts';
import { describeFetchError, NotifierBase, type NotifierDeps, type NotifierLogger } from './notifier.ts';

/** A channel's `tls:` as its notifier gets it: the block, its key (for messages) and the config file's folder. */
export interface ChannelTlsOptions {
  config: TlsConfig;
  /** e.g. `alerting.receivers.0.webhook.1.tls`. */
  key: string;
  baseDir: string;
}

type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/**
 * Reads a channel's `tls:` files (the configuration check read them too: one unusable now is
 * refused the same way) into Node's TLS options, warning when insecureSkipVerify is on; `peer` is
 * what the channel connects to ("the receiver", "the SMTP server"). Throws AlertError
 * CONFIG_INVALID naming the key and the path.
 */
export function loadChannelTls(tls: ChannelTlsOptions, id: string, peer: string, logger: NotifierLogger): ConnectionOptions {
  const { options, problems } = loadTls(tls.config, tls.key, tls.baseDir);
  if (!options) throw new AlertError(ALERT_ERR.CONFIG_INVALID, `invalid alerting configuration:\n  ${problems.join('\n  ')}`, 400, { problems });
  if (tls.config.insecureSkipVerify) {
    logger.warn({ integration: id }, `${id}: ${tls.key}.insecureSkipVerify is on: ${peer}'s certificate is not checked, so anyone on the path can read and change what is sent`);
  }
  return options;
}

class ChannelHttp {
  readonly #tls: ChannelTlsOptions | undefined;
  /** The proxy URL; false: proxy keys that send directly (a pool of its own, not the process-wide fetch). */
  readonly #proxy: string | false | undefined;
  readonly #logger: NotifierLogger;
  readonly #id: string;
  #dispatcher: Dispatcher | undefined;
  /** The proxy's URL for messages (no credentials), when the channel sends through one. */
  readonly via: string | undefined;
  /** The secrets of the proxy URL, for the channel's redaction. */
  readonly secrets: string[];

  constructor(id: string, tls: ChannelTlsOptions | undefined, proxy: string | false | undefined, logger: NotifierLogger) {
    this.#id = id;
    this.#tls = tls;
    this.#proxy = proxy;
    this.#logger = logger;
    this.via = proxy ? displayProxy(proxy) : undefined;
    this.secrets = proxySecrets(proxy || undefined);
  }

  /**
   * Reads the `tls:` files (the configuration check read them too: one changed since is refused
   * the same way) and opens the pool. Throws AlertError CONFIG_INVALID naming the key and the path.
   */
  open(): void {
    const tls = this.#tls;
    if ((!tls && this.#proxy === undefined) || this.#dispatcher) return;
    const connect = tls
      ? tlsConnector(tls.config, tls.key, tls.baseDir, loadChannelTls(tls, this.#id, 'the receiver', this.#logger), (reloadProblems) => {
          if (reloadProblems.length === 0) this.#logger.info?.({ integration: this.#id }, `${this.#id}: TLS files changed, read again for the next connections`);
          else this.#logger.warn({ integration: this.#id, problems: reloadProblems }, `${this.#id}: TLS files changed but cannot be used, the previous ones stay in use: ${reloadProblems.join('; ')}`);
        })
      : undefined;
    this.#dispatcher = ownDispatcher(this.#proxy || undefined, connect);
  }

  /** fetch through the channel's pool when it has `tls:` or a proxy, else the process-wide fetch. */
  readonly fetch: FetchLike = (url, init) => {
    const dispatcher = this.#dispatcher;
    if (!this.#tls && this.#proxy === undefined) return fetch(url, init);
    // Never the process-wide fetch instead: that would send without the CA, the client certificate or the proxy.
    if (!dispatcher) return Promise.reject(new Error(`${this.#tls?.key ?? this.#id}: the connection pool is not open`));
    // undici is loaded here and in tls.ts when a channel has tls:, not with every collector.
    return import('undici').then(({ fetch: undiciFetch }) => undiciFetch(url, { ...(init as object), dispatcher }) as unknown as Promise<Response>);
  };

  /** Closes the pool (the notifier's sends have ended: the pipeline shuts notifiers down after them). */
  async close(): Promise<void> {
    const dispatcher = this.#dispatcher;
    this.#dispatcher = undefined;
    await dispatcher?.destroy().catch(() => undefined);
  }
}

/** A channel that sends over HTTP (Slack, webhook, SMS): `http` is its `tls:` pool, opened at start and closed at shutdown. */
export abstract class HttpNotifier extends NotifierBase {
  protected readonly http: ChannelHttp;

  constructor(id: string, receiver: string, config: { sendResolved: boolean; locale?: string }, deps: NotifierDeps = {}) {
    super(id, receiver, config, deps);
    this.http = new ChannelHttp(id, deps.tls, deps.proxy, this.logger);
  }

  /** Opens the `tls:` pool (its files read again: one unusable now is refused with its key). */
  override async start(): Promise<void> {
    if (this.state === 'new') this.http.open();
    await super.start();
  }

  override async shutdown(): Promise<void> {
    await super.shutdown();
    await this.http.close();
  }

  /**
   * A failed fetch described (notifier.ts describeFetchError); through a proxy it says so: the
   * address in "ECONNREFUSED …" is then the proxy's, not the receiver's.
   */
  protected fetchFailure(err: unknown): string {
    return `${describeFetchError(err)}${this.http.via ? ` (through the proxy ${this.http.via})` : ''}`;
  }
}
