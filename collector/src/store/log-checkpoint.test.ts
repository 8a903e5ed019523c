import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { waitFor } from '../../../test/helpers/collector-process.ts';
import { openDatabase } from './database.ts';
import { FtsIndexer } from './fts-indexer.ts';
import { finishCheckpoint, LogCheckpointer } from './log-checkpoint.ts';

// The ingest thread's side, wrapped to see which connection the indexer hands it (the worker
// thread loads the real module: mocks apply to this thread only).
vi.mock(import('./log-checkpoint.ts'), async (importOriginal) => {
  const real = await importOriginal();
  return { ...real, finishCheckpoint: vi.fn(real.finishCheckpoint) };
});

const MiB = 2 ** 20;

describe('log WAL checkpoints (worker copies, ingest connection finishes)', () => {
  let dir: string;
  let db: DatabaseSync;
  let path: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'periscope-ckpt-'));
    db = openDatabase(dir, 'normal');
    db.exec('CREATE TABLE t (v BLOB)');
    path = join(dir, 'periscope.db');
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** `mib` MiB in commits of 256 KiB, like ingest batches. */
  function write(mib: number): void {
    const insert = db.prepare('INSERT INTO t VALUES (randomblob(?))');
    for (let i = 0; i < mib * 4; i++) insert.run(256 * 1024);
  }
  const walSize = () => statSync(`${path}-wal`).size;

  it('asks for the finish only once the WAL is past restartBytes', () => {
    const checkpointer = new LogCheckpointer(path, { restartBytes: 4 * MiB, finishBytes: MiB });
    write(1);
    expect(checkpointer.run()).toBe(false);
    write(5);
    expect(checkpointer.run()).toBe(true);
    checkpointer.close();
  });

  it('the WAL starts over after the finish, where frames the worker could not copy kept it growing', () => {
    const checkpointer = new LogCheckpointer(path, { restartBytes: 4 * MiB, finishBytes: MiB });
    // A reader's snapshot keeps the worker's checkpoint from copying the frames after it, as
    // continuous ingest does with frames committed while the worker copies.
    const reader = new DatabaseSync(path);
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM t').get();
    write(6);
    expect(checkpointer.run()).toBe(true);
    reader.exec('COMMIT');

    let size = walSize();
    write(1);
    expect(walSize(), 'not every frame copied: the WAL grows').toBeGreaterThan(size);

    const result = finishCheckpoint(db);
    expect(result.checkpointed).toBe(result.log);
    size = walSize();
    write(1);
    expect(walSize(), 'every frame copied: the next commits write the WAL from its start').toBe(size);
    reader.close();
    checkpointer.close();
  });

  it('gives up after a few passes while ingest outruns the copying, and finishes once it does not', () => {
    let passes = 0;
    let outrun = true;
    // Each pass, 2 MiB more arrive (more than finishBytes): the copying never converges.
    const checkpointer = new LogCheckpointer(path, {
      restartBytes: 4 * MiB,
      finishBytes: MiB,
      beforePass: () => {
        passes++;
        if (outrun) write(2);
      },
    });
    const reader = new DatabaseSync(path); // keeps the WAL from starting over under the writes
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM t').get();
    write(6);
    expect(checkpointer.run(), 'not converging: no finish asked of the ingest thread').toBe(false);
    expect(passes, 'a bounded number of passes').toBe(4);
    outrun = false;
    passes = 0;
    expect(checkpointer.run(), 'nothing new arriving: the next run asks for the finish').toBe(true);
    expect(passes).toBe(1);
    reader.exec('COMMIT');
    reader.close();
    checkpointer.close();
  });

  it('past 64 MiB of WAL the store worker has the ingest connection finish, and the WAL starts over', async () => {
    const fts = new FtsIndexer(db, dir, { enabled: false, intervalMs: 20, batch: 1000 });
    fts.start();
    try {
      write(70);
      // The worker checkpoints every 500 ms; its request arrives as a message on this thread.
      await waitFor(() => vi.mocked(finishCheckpoint).mock.calls.length > 0, 30_000, 20);
      expect(vi.mocked(finishCheckpoint).mock.calls[0][0], 'finished on the ingest connection').toBe(db);
      const size = walSize();
      write(1);
      // from its start: the file does not grow (and journal_size_limit cuts it back to 64 MiB)
      expect(walSize(), 'the next commits write the WAL from its start').toBeLessThanOrEqual(Math.min(size, 64 * 2 ** 20));
    } finally {
      await fts.shutdown();
    }
  });
});
