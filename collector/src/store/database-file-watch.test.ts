import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatabaseFileWatch } from './database-file-watch.ts';

describe('DatabaseFileWatch', () => {
  it('tells a file replaced at its path from one deleted, and keeps the first loss seen', () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-watch-'));
    const path = join(dir, 'periscope.db');
    writeFileSync(path, 'open one');
    const lost: unknown[] = [];
    const watch = new DatabaseFileWatch(path, (l) => lost.push(l), 60_000);
    try {
      writeFileSync(path, 'written in place'); // the same file: not a loss
      expect(watch.check()).toBeUndefined();
      expect(watch.lost).toBeUndefined();
      writeFileSync(join(dir, 'other'), 'another file');
      renameSync(join(dir, 'other'), path);
      expect(watch.check()).toMatchObject({ reason: `${path} was replaced by another file while the collector ran` });
      rmSync(dir, { recursive: true });
      expect(watch.check()!.reason).toContain('replaced'); // the first loss stays the answer
      expect(watch.lost!.reason).toContain('replaced');
    } finally {
      watch.stop();
    }
  });

  it('reports a deleted file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-watch-'));
    const path = join(dir, 'periscope.db');
    writeFileSync(path, 'x');
    const watch = new DatabaseFileWatch(path, () => {}, 60_000);
    try {
      rmSync(dir, { recursive: true });
      expect(watch.check()).toMatchObject({ reason: `${path} was deleted (or its directory moved) while the collector ran`, since: expect.any(String) });
    } finally {
      watch.stop();
    }
  });
});
