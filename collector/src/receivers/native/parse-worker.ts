// Piscina task (parse-pool.ts): one request body → ParsedLogs, off the ingest thread.
import { parseLogBatch, type ParsedLogs } from './parse.ts';

export default function parse(task: { contentType: string; body: Uint8Array; nowMs: number }): ParsedLogs {
  return parseLogBatch(task.contentType, task.body, task.nowMs);
}
