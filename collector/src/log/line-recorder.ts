// For tests: a logger (pino's method shape) that keeps the lines it is given.

export interface RecordedLine {
  level: string;
  fields: Record<string, unknown>;
  msg: string;
}

export function lineRecorder() {
  const lines: RecordedLine[] = [];
  const at = (level: string) => (fields: object, msg?: string) => lines.push({ level, fields: fields as Record<string, unknown>, msg: msg ?? '' });
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}
