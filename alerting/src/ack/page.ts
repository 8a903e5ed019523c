// The small HTML pages behind an acknowledgement link: GET shows a confirm form (a GET never acks —
// link previews and mail scanners open links), POST acknowledges. No script, no external resources.
import type { NotifyAlert } from '../dispatch/alert.ts';
import { messagesFor } from '../templates/messages.ts';
import { escapeHtml, formatTime, formatValue, labelPairs } from '../templates/render.ts';

export const ACK_PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
};

function page(locale: string, title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="${escapeHtml(locale)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}label{display:block;margin:.75rem 0 .25rem}input,textarea{width:100%;padding:.4rem;box-sizing:border-box}button{margin-top:1rem;padding:.5rem 1.5rem}code{background:#f3f3f3;padding:0 .2rem}</style>
</head><body>
<h1>${escapeHtml(title)}</h1>
${body}
</body></html>`;
}

export function confirmPage(alert: NotifyAlert, locale: string): string {
  const m = messagesFor(locale);
  const summary = alert.annotations.summary ?? alert.labels.alertname ?? alert.fingerprint;
  return page(
    locale,
    m.page.title,
    `<p><b>${escapeHtml(summary)}</b></p>
<p>${escapeHtml(m.severity)}: ${escapeHtml(alert.severity)} &nbsp; ${escapeHtml(m.value)}: ${escapeHtml(formatValue(alert.value))} &nbsp; ${escapeHtml(m.startedAt)}: ${escapeHtml(formatTime(new Date(alert.startsAt).toISOString()))}</p>
<p><code>${escapeHtml(labelPairs(alert.labels))}</code></p>
<p>${escapeHtml(m.page.confirm)}</p>
<form method="post">
<label for="by">${escapeHtml(m.page.name)}</label><input id="by" name="by" required maxlength="200" autocomplete="name">
<label for="comment">${escapeHtml(m.page.comment)}</label><textarea id="comment" name="comment" rows="3" maxlength="2000"></textarea>
<button type="submit">${escapeHtml(m.page.button)}</button>
</form>`,
  );
}

export function donePage(by: string, locale: string): string {
  const m = messagesFor(locale);
  return page(locale, m.page.title, `<p>${escapeHtml(m.page.done(by))}</p>`);
}

export function errorPage(kind: 'invalid' | 'expired' | 'notActive' | 'unavailable', locale: string, detail?: string): string {
  const m = messagesFor(locale);
  return page(locale, m.page.title, `<p>${escapeHtml(m.page[kind])}</p>${detail ? `<p>${escapeHtml(detail)}</p>` : ''}`);
}
