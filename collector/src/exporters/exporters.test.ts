// Exporters as a whole: what they keep in memory while the collector runs.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { IngestedBatch, IngestListener } from '../ingest/ingest.ts';
import { openDatabase } from '../store/database.ts';
import { Exporters, type ExportersDeps } from './exporters.ts';
import { silentLogger } from './sink.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('Exporters', () => {
  it('without log exporters, the accept times of ingested batches are not kept (nothing reads them)', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'periscope-exporters-')), 'normal');
    let listener: IngestListener | undefined;
    const deps = {
      db,
      store: { lastId: () => 0 },
      ingest: { subscribe: (l: IngestListener) => ((listener = l), () => (listener = undefined)) },
      registry: new Registry(),
      sources: {},
      logger: silentLogger,
    } as unknown as ExportersDeps;
    const exporters = new Exporters([], deps);
    exporters.start();
    // A steady trickle for a long while: one batch every 300 ms, each a new accept-time entry.
    const batches = 20_000;
    for (let i = 0; i < batches; i++) {
      vi.advanceTimersByTime(300);
      listener!({ firstId: i * 10 + 1, logs: { length: 10 } } as unknown as IngestedBatch);
    }
    expect(exporters.acceptTimes.entries).toBeLessThan(2100);
    db.close();
  });
});
