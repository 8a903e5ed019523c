// Builds one Notifier per integration of each receiver from the validated config slice.
// Integration ids: `<receiver>/<channel>/<index>`; an SMS entry with several numbers becomes one
// integration per number (`<receiver>/sms/<index>.<n>`), so each recipient is retried on its own.
import { parseDuration } from '../dispatch/duration.ts';
import type { ReceiverConfig } from '../notify-config.ts';
import { EmailNotifier } from './email/email.ts';
import type { Notifier, NotifierLogger } from './notifier.ts';
import { SlackNotifier } from './slack/slack.ts';
import { SmsNotifier } from './sms/sms.ts';
import { WebhookNotifier } from './webhook/webhook.ts';
import type { TlsConfig } from '../tls.ts';
import { NO_PROXY_ENVIRONMENT, proxyFor, type ProxyConfig, type ProxyEnvironment } from '../proxy.ts';

export interface BuiltNotifiers {
  notifiers: Map<string, Notifier>;
  /** receiver name → its integration ids, in config order. */
  byReceiver: Map<string, string[]>;
}

const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);

/** `baseDir`: the config file's folder, where the relative paths of a channel's `tls:` files are taken from. */
export function buildNotifiers(
  receivers: readonly ReceiverConfig[],
  deps: { logger?: NotifierLogger; now?: () => number; baseDir?: string; proxyEnvironment?: ProxyEnvironment } = {},
): BuiltNotifiers {
  const notifiers = new Map<string, Notifier>();
  const byReceiver = new Map<string, string[]>();
  const { baseDir = process.cwd(), proxyEnvironment = NO_PROXY_ENVIRONMENT, ...common } = deps;
  /** A notifier's deps: the common ones, its `tls:` with its key, and the proxy its URL goes through. */
  const channelDeps = (tls: TlsConfig | undefined, key: string, proxy?: { config: ProxyConfig; url: string }) => {
    const configured = proxy !== undefined && (proxy.config.proxyUrl !== undefined || proxy.config.proxyFromEnvironment === true);
    const via: string | false | undefined = configured && URL.canParse(proxy.url) ? (proxyFor(proxy.config, proxyEnvironment, proxy.url) ?? false) : undefined;
    return { ...common, ...(tls ? { tls: { config: tls, key: `${key}.tls`, baseDir } } : {}), ...(via !== undefined ? { proxy: via } : {}) };
  };
  for (const [ri, r] of receivers.entries()) {
    const ids: string[] = [];
    const add = (n: Notifier) => {
      notifiers.set(n.id, n);
      ids.push(n.id);
    };
    (r.slack ?? []).forEach((c, i) =>
      add(new SlackNotifier(`${r.name}/slack/${i}`, r.name, { ...c, timeoutMs: parseDuration(c.timeout), locale: c.locale }, channelDeps(c.tls, `alerting.receivers.${ri}.slack.${i}`, { config: c, url: c.webhookUrl }))),
    );
    (r.email ?? []).forEach((c, i) =>
      add(
        new EmailNotifier(
          `${r.name}/email/${i}`,
          r.name,
          { ...c, to: list(c.to), timeoutMs: parseDuration(c.timeout), locale: c.locale },
          channelDeps(c.smtp.tls, `alerting.receivers.${ri}.email.${i}.smtp`),
        ),
      ),
    );
    (r.sms ?? []).forEach((c, i) =>
      list(c.to).forEach((to, j) =>
        add(new SmsNotifier(`${r.name}/sms/${i}.${j}`, r.name, { ...c, to, timeoutMs: parseDuration(c.timeout), locale: c.locale }, channelDeps(c.tls, `alerting.receivers.${ri}.sms.${i}`, { config: c, url: c.baseUrl }))),
      ),
    );
    (r.webhook ?? []).forEach((c, i) =>
      add(new WebhookNotifier(`${r.name}/webhook/${i}`, r.name, { ...c, timeoutMs: parseDuration(c.timeout), locale: c.locale }, channelDeps(c.tls, `alerting.receivers.${ri}.webhook.${i}`, { config: c, url: c.url }))),
    );
    byReceiver.set(r.name, ids);
  }
  return { notifiers, byReceiver };
}
