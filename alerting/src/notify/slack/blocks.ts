// Block Kit message for a notification, kept within Slack's limits
// (https://api.slack.com/reference/block-kit/blocks): at most 50 blocks per message, header text
// (plain_text) ≤ 150 characters, section text ≤ 3000, context element text ≤ 2000 (we use ≤ 3000
// sections only). User text is escaped for mrkdwn (& < > — https://api.slack.com/reference/surfaces/formatting#escaping)
// and cut at a character boundary, never inside an escape entity.
import { messagesFor } from '../../templates/messages.ts';
import { alertStatusText, alertSummary, formatTime, formatValue, labelPairs, title } from '../../templates/render.ts';
import type { Notification } from '../notifier.ts';

export const SLACK_MAX_BLOCKS = 50;
export const SLACK_HEADER_MAX = 150;
export const SLACK_SECTION_MAX = 3000;
/** Blocks each alert takes (section + links section + divider). */
const BLOCKS_PER_ALERT = 3;

export interface SlackBlock {
  type: string;
  text?: { type: 'plain_text' | 'mrkdwn'; text: string; emoji?: boolean };
  elements?: { type: 'mrkdwn' | 'plain_text'; text: string }[];
}

export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

export function escapeMrkdwn(s: string): string {
  return s.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

/** Cuts to at most `max` UTF-16 units (Slack counts characters; this is never more), ending with `…`. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let out = '';
  for (const ch of s) {
    if (out.length + ch.length > max - 1) break;
    out += ch;
  }
  // Never end inside an escape entity like `&amp;` or an unfinished link `<url|text>`.
  out = out.replace(/&[a-z]{0,4}$/, '');
  const open = out.lastIndexOf('<');
  if (open > out.lastIndexOf('>')) out = out.slice(0, open);
  return `${out}…`;
}

/** Escaped, then truncated: for user text placed in mrkdwn. */
function userText(s: string, max: number): string {
  return truncate(escapeMrkdwn(s), max);
}

/**
 * User text as an inline code span, shown literally (`*`, `_`, `~` are not formatting there). mrkdwn
 * has no escape for a backtick inside one: it would end the span and leave the rest to be read as
 * mrkdwn, so it is shown as ˋ (U+02CB, a modifier letter that looks the same).
 */
function codeSpan(s: string, max: number): string {
  return `\`${userText(s.replaceAll('`', '\u02cb'), max)}\``;
}

function link(url: string, label: string): string {
  return `<${url.replace(/[|>]/g, encodeURIComponent)}|${escapeMrkdwn(label)}>`;
}

const SEVERITY_EMOJI: Record<string, string> = { critical: ':red_circle:', error: ':large_orange_circle:', warning: ':large_yellow_circle:', info: ':large_blue_circle:' };

export function slackMessage(n: Notification): SlackMessage {
  const m = messagesFor(n.locale);
  const heading = title(n);
  const blocks: SlackBlock[] = [{ type: 'header', text: { type: 'plain_text', text: truncate(heading, SLACK_HEADER_MAX), emoji: true } }];
  if (n.escalation) {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: userText(m.escalation(n.escalation.step, n.escalation.steps, n.escalation.cycle, n.escalation.repeat), 2000) }] });
  }
  // Room for the alerts: the blocks so far, plus one for a "…and N more" note.
  const room = Math.floor((SLACK_MAX_BLOCKS - blocks.length - 1) / BLOCKS_PER_ALERT);
  const shown = n.alerts.slice(0, room);
  const hidden = n.alerts.length - shown.length + n.truncatedAlerts;
  for (const a of shown) {
    const icon = a.status === 'resolved' ? ':white_check_mark:' : ((Object.hasOwn(SEVERITY_EMOJI, a.severity) && SEVERITY_EMOJI[a.severity]) || ':warning:');
    const lines = [
      `${icon} *[${escapeMrkdwn(alertStatusText(a, m))}] ${userText(alertSummary(a), 600)}*`,
      `*${m.severity}:* ${userText(a.severity, 50)}    *${m.value}:* ${userText(formatValue(a.value), 50)}`,
      `*${m.startedAt}:* ${formatTime(a.startsAt)}${a.status === 'resolved' && a.endsAt ? `    *${m.endedAt}:* ${formatTime(a.endsAt)}` : ''}`,
    ];
    if (a.annotations.description && a.annotations.description !== alertSummary(a)) lines.push(userText(a.annotations.description, 800));
    if (a.error) lines.push(`*${m.error}:* ${userText(a.error, 400)}`);
    if (a.ack) lines.push(`:ok_hand: ${userText(m.acknowledgedBy(a.ack.by), 200)}${a.ack.comment ? `: ${userText(a.ack.comment, 300)}` : ''}`);
    lines.push(`*${m.labels}:* ${codeSpan(labelPairs(a.labels), 1200)}`);
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(lines.join('\n'), SLACK_SECTION_MAX) } });
    const links: string[] = [];
    if (a.status === 'firing' && a.links.ack && !a.ack) links.push(link(a.links.ack, m.ack));
    links.push(link(a.links.silence, m.silence), link(a.links.logs, m.logs));
    if (a.generatorURL) links.push(link(a.generatorURL, m.source));
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(links.join('  ·  '), SLACK_SECTION_MAX) } });
    blocks.push({ type: 'divider' });
  }
  if (hidden > 0) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: userText(m.truncated(hidden), 2000) }] });
  // `text` is mrkdwn (the push notification, and the message where blocks cannot be shown): the
  // title holds label values, escaped like all user text; the header block is plain_text.
  return { text: userText(heading, SLACK_SECTION_MAX), blocks: blocks.slice(0, SLACK_MAX_BLOCKS) };
}
