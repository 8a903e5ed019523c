// Backups of a running collector's data directory, and restores (docs/deploy.md, "Backup and
// restore"): what a restored collector finds, searches and sends again.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backup, DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';

const cleanup: Array<() => unknown> = [];
afterAll(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'periscope-backup-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function post(c: CollectorProcess, word: string, n: number): Promise<void> {
  const body = Array.from({ length: n }, (_, k) => JSON.stringify({ appName: 'backup', level: 'info', msg: `${word} ${k}` })).join('\n');
  const res = await fetch(`${c.url}/api/v1/logs`, { method: 'POST', body, headers: { 'content-type': 'application/x-ndjson' } });
  expect(res.status).toBe(200);
}

async function found(c: CollectorProcess, q: string): Promise<number> {
  const res = await fetch(`${c.url}/api/v1/logs?q=${encodeURIComponent(q)}&limit=1000&start=2000-01-01T00:00:00Z`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { records: unknown[] }).records.length;
}

/** Waits until the search index has reached the log's last position. */
async function indexed(c: CollectorProcess): Promise<void> {
  await waitFor(async () => {
    const h = (await (await fetch(`${c.url}/health/detailed`)).json()) as { components: { store: { lastId: number }; searchIndex: { indexedId: number; lag: number } } };
    return h.components.searchIndex.indexedId >= h.components.store.lastId && h.components.searchIndex.lag === 0;
  });
}

describe('restore', () => {
  it('q= finds the records written after a restore whose log is older than its search index', { timeout: 120_000 }, async () => {
    const dataDir = scratch();
    const saved = scratch();
    let c = await startCollectorProcess({ dataDir });
    cleanup.push(() => c.kill());
    await post(c, 'before', 100);
    await indexed(c);
    // The log is backed up (online, SQLite's backup API) before the index moves on: the index of
    // the restored directory is ahead of its log, as with a backup of periscope.db taken before
    // periscope-fts.db's, or the log alone restored.
    const live = new DatabaseSync(join(dataDir, 'periscope.db'), { readOnly: true });
    await backup(live, join(saved, 'periscope.db'));
    live.close();
    await post(c, 'after', 300);
    await indexed(c);
    expect(await c.stop()).toBe(0);

    for (const suffix of ['-wal', '-shm']) rmSync(join(dataDir, `periscope.db${suffix}`), { force: true });
    copyFileSync(join(saved, 'periscope.db'), join(dataDir, 'periscope.db'));
    // Indexing held off: the new records are found by reading them, as records not indexed yet.
    c = await startCollectorProcess({ dataDir, configYaml: 'store: { search: { indexInterval: 1h } }\n' });
    await waitFor(async () => ((await (await fetch(`${c.url}/health/detailed`)).json()) as { components: { searchIndex: { indexedId: number } } }).components.searchIndex.indexedId === 100);
    expect(await found(c, 'after')).toBe(0);
    await post(c, 'restored', 50); // positions 101-150, which the index had taken for 'after' records
    expect(await found(c, 'restored')).toBe(50);
    await c.stop();
    // … and indexed: found through the index.
    c = await startCollectorProcess({ dataDir });
    await indexed(c);
    expect(await found(c, 'restored')).toBe(50);
    expect(await found(c, 'before')).toBe(100);
  });
});
