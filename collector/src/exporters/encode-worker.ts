// Piscina task (encode-pool.ts): one batch of stored records → the sink's request body, off the
// ingest thread. The worker builds its own copy of the sink from the recipe (pure: no connection).
import { move, transferableSymbol, valueSymbol } from 'piscina';
import type { LogRecord } from '../../../sdk/src/record.ts';
import { ElasticsearchSink } from './elasticsearch/sink.ts';
import type { ElasticsearchConfig } from './elasticsearch/config.ts';
import type { LokiConfig } from './loki/config.ts';
import { LokiSink } from './loki/sink.ts';
import type { EncodedBody, LogItem, LogSink, SinkRecipe } from './sink.ts';

export interface EncodeTask {
  /** Names the sink copy kept between tasks (the exporter's name). */
  key: string;
  recipe: SinkRecipe;
  ids: number[];
  micros: number[];
  bodies: string[];
}

export interface EncodeOutcome {
  /** The body for the records not refused, in batch order. */
  body: EncodedBody;
  /** Records the sink's check refused: [index in the task, reason]. */
  refused: Array<[number, string]>;
}

const sinks = new Map<string, LogSink>();

function sinkFor(key: string, recipe: SinkRecipe): LogSink {
  let sink = sinks.get(key);
  if (!sink) {
    sink = recipe.kind === 'loki'
      ? new LokiSink(recipe.args[0] as LokiConfig)
      : new ElasticsearchSink(recipe.args[0] as ElasticsearchConfig, recipe.args[1] as string);
    sinks.set(key, sink);
  }
  return sink;
}

/**
 * The outcome, with the body's memory moved to the ingest thread instead of copied when the body
 * owns its whole ArrayBuffer (Piscina's Transferable interface,
 * https://github.com/piscinajs/piscina#interface-transferable). A copy there meant a fresh
 * allocation per batch, about a megabyte, each page of it a page fault on the ingest thread
 * (`perf`: ~7 % of the collector's CPU draining into Elasticsearch). A body that shares its buffer
 * (a slice of Node's Buffer pool) is copied: its memory is not the body's alone to move.
 */
function handOver(outcome: EncodeOutcome): EncodeOutcome {
  const { body } = outcome;
  if (typeof body === 'string' || body.byteOffset !== 0 || body.byteLength !== body.buffer.byteLength || !(body.buffer instanceof ArrayBuffer)) return outcome;
  return move({ [transferableSymbol]: body.buffer, [valueSymbol]: outcome }) as unknown as EncodeOutcome;
}

/**
 * A record of the task, parsed each time `record` is read instead of once and kept: a batch's
 * parsed records would otherwise all stay alive until the task ends, long enough to be promoted
 * by the young-generation GC. The sinks read it once per record (Loki keeps the entry it maps it
 * to; Elasticsearch maps and writes each document in turn).
 */
class TaskItem implements LogItem {
  readonly id: number;
  readonly micros: number;
  readonly #body: string;

  constructor(id: number, micros: number, body: string) {
    this.id = id;
    this.micros = micros;
    this.#body = body;
  }

  get record(): LogRecord {
    return JSON.parse(this.#body) as LogRecord;
  }
}

export default function encode(task: EncodeTask): EncodeOutcome {
  const sink = sinkFor(task.key, task.recipe);
  const items: LogItem[] = [];
  const refused: Array<[number, string]> = [];
  for (let i = 0; i < task.ids.length; i++) {
    const item = new TaskItem(task.ids[i], task.micros[i], task.bodies[i]);
    const reason = sink.check?.(item);
    if (reason === undefined) items.push(item);
    else refused.push([i, reason]);
  }
  return handOver({ body: sink.encode!(items), refused });
}
