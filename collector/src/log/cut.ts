/**
 * Longest backend text (an error, a refusal reason) in one of the collector's log lines. A
 * backend's answer is kept up to 2000 characters for /health/dependencies and the dead letters
 * (exporters/http.ts), where the whole reason is read; in a log line that is a screenful per
 * line (an HTML error page of a proxy, Loki's list of refused entries), twice when the message
 * repeats it. The start says what it is; the rest is one request away.
 */
export const LOG_TEXT_MAX = 500;

/** `text` cut to LOG_TEXT_MAX characters, saying how many more there were and where to read them. */
export function cutForLog(text: string | undefined): string | undefined {
  if (text === undefined || text.length <= LOG_TEXT_MAX) return text;
  return `${text.slice(0, LOG_TEXT_MAX)}… (${text.length - LOG_TEXT_MAX} more characters: GET /health/dependencies, GET /api/v1/deadletter)`;
}
