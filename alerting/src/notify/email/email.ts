// Email through nodemailer's pooled SMTP transport: multipart/alternative with a plain-text and an
// HTML part. Threading (RFC 5322 §3.6.4): the first message of a group episode gets the stable
// Message-ID `<thread-id@domain>`; every later one has its own Message-ID and
// In-Reply-To/References pointing at that root, and the subject "Re: <root subject>". The subject
// does not carry the status so clients that thread by subject (Gmail) keep one conversation.
// Retry decision on the SMTP reply: 4xx retryable, 5xx permanent (RFC 5321 §4.2.1); connection,
// timeout and TLS errors retryable. The SMTP password never appears in errors or logs.
import type nodemailer from 'nodemailer';
import { timerDelay } from '../../clock.ts';
import { messagesFor } from '../../templates/messages.ts';
import { alertStatusText, alertSummary, escapeHtml, formatTime, formatValue, groupTitle, plainTextBody, title } from '../../templates/render.ts';
import type { ConnectionOptions } from 'node:tls';
import { tlsHint, type TlsConfig } from '../../tls.ts';
import { displayProxy, proxySecrets } from '../../proxy.ts';
import { loadChannelTls, type ChannelTlsOptions } from '../http-tls.ts';
import { NotifierBase, redact, type Notification, type NotifierDeps, type SendResult } from '../notifier.ts';

export interface EmailConfig {
  to: string[];
  from: string;
  smtp: {
    host: string;
    port: number;
    /** TLS from the first byte; unset: on port 465 only. */
    secure?: boolean;
    requireTls: boolean;
    user?: string;
    password?: string;
    maxConnections: number;
    tlsRejectUnauthorized: boolean;
    /** An HTTP proxy the SMTP connection is tunnelled through (CONNECT): nodemailer's `proxy`. */
    proxyUrl?: string;
    tls?: TlsConfig;
  };
  subjectPrefix: string;
  sendResolved: boolean;
  maxAlerts: number;
  timeoutMs: number;
  locale?: string;
}

type Transporter = ReturnType<typeof nodemailer.createTransport>;

/**
 * nodemailer's SMTP pool options. Port 465 is SMTP over TLS from the first byte (RFC 8314 §3.3),
 * other ports start in plain text and upgrade with STARTTLS when offered; `secure` unset follows
 * the port, as Alertmanager's email receiver does, so `port: 465` alone does not wait out its
 * timeout on every attempt for a greeting the server never sends before TLS.
 */
export function smtpTransportOptions(config: EmailConfig, tls: ConnectionOptions = {}) {
  const s = config.smtp;
  // Node fires a timer longer than MAX_NODE_TIMER_MS after 1 ms: `timeout: 600h` failed every mail at once.
  const timeout = timerDelay(config.timeoutMs);
  return {
    pool: true as const,
    host: s.host,
    port: s.port,
    secure: s.secure ?? s.port === 465,
    requireTLS: s.requireTls,
    maxConnections: s.maxConnections,
    auth: s.user !== undefined ? { user: s.user, pass: s.password ?? '' } : undefined,
    // smtp.tls (its files read: a CA, a client certificate, the name, the lowest version), passed to
    // tls.connect for implicit TLS and STARTTLS alike; either setting turns verification off.
    tls: { ...tls, rejectUnauthorized: s.tlsRejectUnauthorized && tls.rejectUnauthorized !== false },
    // nodemailer's own HTTP CONNECT client (https://nodemailer.com/smtp/proxies/): the SMTP
    // session, and its TLS, run inside the tunnel.
    ...(s.proxyUrl ? { proxy: s.proxyUrl } : {}),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    logger: false,
    debug: false,
  };
}

/** What sendMail's answer says of recipients the server refused, or undefined when it took every one. */
export function refusedRecipients(info: { rejected?: unknown[]; rejectedErrors?: Array<{ response?: string; message?: string }> }): string | undefined {
  const rejected = (info.rejected ?? []).map((r) => (typeof r === 'string' ? r : (r as { address?: string }).address ?? String(r)));
  if (rejected.length === 0) return undefined;
  const why = (info.rejectedErrors ?? []).map((e) => e.response ?? e.message).filter(Boolean);
  return `the SMTP server refused ${rejected.join(', ')}${why.length ? ` (${why.join('; ')})` : ''}; the other recipients got the mail`;
}

export function messageDomain(from: string): string {
  const m = /@([A-Za-z0-9.-]+)/.exec(from);
  return m ? m[1] : 'periscope.local';
}

export function emailSubject(n: Notification, prefix: string): string {
  const root = `${prefix} ${groupTitle(n)}`.trim();
  return n.thread.first ? root : `Re: ${root}`;
}

const COLORS: Record<string, string> = { critical: '#d32f2f', error: '#ef6c00', warning: '#f9a825', info: '#1976d2', resolved: '#2e7d32' };

export function htmlBody(n: Notification): string {
  const m = messagesFor(n.locale);
  const rows = n.alerts
    .map((a) => {
      const color = a.status === 'resolved' ? COLORS.resolved : ((Object.hasOwn(COLORS, a.severity) && COLORS[a.severity]) || COLORS.warning);
      const links = [
        a.status === 'firing' && a.links.ack && !a.ack ? `<a href="${escapeHtml(a.links.ack)}">${escapeHtml(m.ack)}</a>` : '',
        `<a href="${escapeHtml(a.links.silence)}">${escapeHtml(m.silence)}</a>`,
        `<a href="${escapeHtml(a.links.logs)}">${escapeHtml(m.logs)}</a>`,
        a.generatorURL ? `<a href="${escapeHtml(a.generatorURL)}">${escapeHtml(m.source)}</a>` : '',
      ].filter(Boolean);
      const labels = Object.keys(a.labels)
        .sort()
        .map((k) => `<code>${escapeHtml(k)}=${escapeHtml(a.labels[k])}</code>`)
        .join(' ');
      return `<tr><td style="border-left:4px solid ${color};padding:8px 12px">
<div style="font-weight:bold">[${escapeHtml(alertStatusText(a, m))}] ${escapeHtml(alertSummary(a))}</div>
${a.annotations.description && a.annotations.description !== alertSummary(a) ? `<div>${escapeHtml(a.annotations.description)}</div>` : ''}
<div>${escapeHtml(m.severity)}: <b>${escapeHtml(a.severity)}</b> &nbsp; ${escapeHtml(m.value)}: <b>${escapeHtml(formatValue(a.value))}</b></div>
<div>${escapeHtml(m.startedAt)}: ${escapeHtml(formatTime(a.startsAt))}${a.status === 'resolved' && a.endsAt ? ` &nbsp; ${escapeHtml(m.endedAt)}: ${escapeHtml(formatTime(a.endsAt))}` : ''}</div>
${a.error ? `<div>${escapeHtml(m.error)}: ${escapeHtml(a.error)}</div>` : ''}
${a.ack ? `<div>${escapeHtml(m.acknowledgedBy(a.ack.by))}${a.ack.comment ? `: ${escapeHtml(a.ack.comment)}` : ''}</div>` : ''}
<div style="color:#555">${escapeHtml(m.labels)}: ${labels}</div>
<div>${links.join(' &middot; ')}</div>
</td></tr>`;
    })
    .join('\n');
  const esc = n.escalation ? `<p>${escapeHtml(m.escalation(n.escalation.step, n.escalation.steps, n.escalation.cycle, n.escalation.repeat))}</p>` : '';
  const more = n.truncatedAlerts > 0 ? `<p>${escapeHtml(m.truncated(n.truncatedAlerts))}</p>` : '';
  return `<!DOCTYPE html>
<html lang="${escapeHtml(n.locale)}"><head><meta charset="utf-8"><title>${escapeHtml(title(n))}</title></head>
<body style="font-family:sans-serif">
<h2>${escapeHtml(title(n))}</h2>
${esc}
<table cellspacing="0" cellpadding="0" style="border-collapse:separate;border-spacing:0 8px">
${rows}
</table>
${more}
</body></html>`;
}

function smtpResult(err: unknown): SendResult {
  const e = err as Error & { code?: string; responseCode?: number; response?: string };
  const code = e?.responseCode;
  if (typeof code === 'number' && code >= 400 && code < 600) {
    return { status: code >= 500 ? 'permanent' : 'retryable', error: `SMTP ${code}: ${(e.response ?? e.message ?? '').slice(0, 200)}` };
  }
  if (e?.code === 'EAUTH' || e?.code === 'ENOAUTH' || e?.code === 'EENVELOPE' || e?.code === 'ECONFIG') {
    return { status: 'permanent', error: `SMTP ${e.code}: ${(e.message ?? '').slice(0, 200)}` };
  }
  // nodemailer keeps the TLS error's own code (UNABLE_TO_VERIFY_LEAF_SIGNATURE, …) as originalCode.
  const original = (e as { originalCode?: unknown })?.originalCode;
  const hint = typeof original === 'string' ? tlsHint(original, { peer: 'the SMTP server', owner: 'the channel', doc: 'docs/alerting-notifications.md#tls', block: 'smtp.tls' }) : undefined;
  return { status: 'retryable', error: `SMTP ${e?.code ?? 'error'}: ${(e?.message ?? String(err)).slice(0, 200)}${hint ? ` (${original}: ${hint})` : ''}` };
}

export class EmailNotifier extends NotifierBase {
  readonly channel = 'email' as const;
  readonly maxAlerts: number;
  readonly #config: EmailConfig;
  /** A pool, made at start (smtp.tls's files read then): it connects at the first send, and shutdown closes its connections. */
  #transport: Transporter | undefined;
  readonly #tls: ChannelTlsOptions | undefined;

  constructor(id: string, receiver: string, config: EmailConfig, deps: NotifierDeps = {}) {
    super(id, receiver, config, deps);
    this.maxAlerts = config.maxAlerts;
    this.#config = config;
    this.#tls = deps.tls;
  }

  /**
   * Reads smtp.tls's files (the configuration check read them too: one unusable now is refused
   * with its key) and makes the pool. Unlike the HTTP channels' pools, a file changed later is read
   * at the next reload that changes the configuration, or restart.
   */
  override async start(): Promise<void> {
    // Imported here, not with the module: a collector without an email receiver (most) never
    // loads nodemailer's 39 modules, 70-90 ms of every start on a loaded 2-core machine.
    const { default: mailer } = await import('nodemailer');
    if (this.state === 'new') {
      const options = this.#tls ? loadChannelTls(this.#tls, this.id, 'the SMTP server', this.logger) : {};
      this.#transport = mailer.createTransport(smtpTransportOptions(this.#config, options));
      if (this.#config.smtp.proxyUrl && new URL(this.#config.smtp.proxyUrl).protocol === 'https:') await this.#verifiedHttpsProxy(this.#transport);
    }
    await super.start();
  }

  /**
   * nodemailer checks an https:// proxy's certificate only when the relay's `tls` does
   * (rejectUnauthorized): smtp.tlsRejectUnauthorized: false or tls.insecureSkipVerify, meant for
   * the relay, sent the proxy's credentials to whoever answered on its address. Its own CONNECT
   * client, given the proxy's options only, checks the proxy against Node's CAs, as the HTTP
   * channels' proxy is; the handshake keeps its share of the connection timeout.
   */
  async #verifiedHttpsProxy(transport: Transporter): Promise<void> {
    const { default: httpProxyClient } = await import('nodemailer/lib/smtp-connection/http-proxy-client');
    const timeout = timerDelay(this.#config.timeoutMs);
    transport.set('proxy_handler_https', (proxy, options, callback) => {
      const started = Number(options.connectStartedAt) || Date.now();
      httpProxyClient(proxy.href, options.port ?? 0, options.host ?? '', { timeout: Math.max(started + timeout - Date.now(), 1) }, (err, socket) => (err ? callback(err) : callback(null, { connection: socket! })));
    });
  }

  override async shutdown(): Promise<void> {
    await super.shutdown();
    this.#transport?.close();
  }

  #secrets(): (string | undefined)[] {
    const s = this.#config.smtp;
    return [s.password, s.password !== undefined ? `\u0000${s.user ?? ''}\u0000${s.password}` : undefined, ...proxySecrets(s.proxyUrl)];
  }

  async send(n: Notification): Promise<SendResult> {
    const notStarted = this.notStarted();
    if (notStarted) return notStarted;
    const domain = messageDomain(this.#config.from);
    const root = `<${n.thread.id}@${domain}>`;
    try {
      const info = await this.#transport!.sendMail({
        from: this.#config.from,
        to: this.#config.to,
        subject: emailSubject(n, this.#config.subjectPrefix),
        text: plainTextBody(n),
        html: htmlBody(n),
        messageId: n.thread.first ? root : `<${n.id}@${domain}>`,
        ...(n.thread.first ? {} : { inReplyTo: root, references: [root] }),
        headers: { 'Auto-Submitted': 'auto-generated', 'X-Periscope-Status': n.status, 'X-Periscope-Notification': n.id },
      });
      // Some recipients refused, the others took it (all refused is an error above): sending again
      // would repeat it to those who got it, so it counts as sent, with the refusals in its error
      // (the notification's lastError and timeline), and a warning.
      const refused = refusedRecipients(info);
      if (refused) {
        this.logger.warn({ integration: this.id }, refused);
        return { status: 'success', error: refused };
      }
      return { status: 'success' };
    } catch (err) {
      const result = smtpResult(err);
      // Not an answer of the SMTP server: the connection failed, and its address is the proxy's.
      const proxy = this.#config.smtp.proxyUrl;
      if (proxy && typeof (err as { responseCode?: unknown })?.responseCode !== 'number') result.error += ` (through the proxy ${displayProxy(proxy)})`;
      result.error = redact(result.error ?? '', this.#secrets());
      this.logger.warn({ integration: this.id, result: result.status }, result.error);
      return result;
    }
  }
}
