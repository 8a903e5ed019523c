// Backups of a running collector's data directory, and restores (docs/deploy.md, "Backup and
// restore"): what a restored collector finds, searches and sends again.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backup, DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { startLokiServer } from './servers/loki.ts';

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

/** `periscope backup …` with PERISCOPE_DATA_DIR set: its exit status and output. */
function runBackup(dataDir: string, ...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO_ROOT, 'collector/bin/periscope.ts'), 'backup', ...args], { env: { ...process.env, PERISCOPE_DATA_DIR: dataDir } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, out: stdout + stderr });
    });
  });
}

describe('periscope backup', () => {
  it('copies a collector taking records into a directory another collector starts on: every record, its search, the exporter resuming', { timeout: 180_000 }, async () => {
    const loki = await startLokiServer();
    cleanup.push(() => loki.close());
    await loki.setFault({ mode: 'down' }); // a backlog, and a cursor, in the backup
    const yaml = `exporters:
  - type: loki
    name: loki
    url: ${loki.url}
    batch: { wait: 50ms, maxRecords: 500 }
    retry: { initialBackoff: 50ms, maxBackoff: 300ms }
    circuitBreaker: { openDuration: 200ms, maxOpenDuration: 500ms }
`;
    const c = await startCollectorProcess({ configYaml: yaml });
    cleanup.push(() => c.dispose());
    let writing = true;
    let batches = 0;
    const writer = (async () => {
      while (writing) await post(c, `busy${batches++}`, 200);
    })();
    await waitFor(() => batches >= 5);
    const dest = join(scratch(), 'backup');
    const taken = await runBackup(c.dataDir, dest);
    const during = batches;
    await waitFor(() => batches >= during + 3); // records kept arriving during and after the backup
    writing = false;
    await writer;
    expect(taken.out).toContain(`written to ${dest}`);
    expect(taken.code).toBe(0);
    expect(readdirSync(dest).sort()).toEqual(['alerting.db', 'periscope-fts.db', 'periscope.db']);
    expect(await c.stop()).toBe(0);

    // The backup is a log with no hole: positions 1 … n, each batch whole or absent.
    const db = new DatabaseSync(join(dest, 'periscope.db'), { readOnly: true });
    const { n, last } = db.prepare('SELECT count(*) AS n, max(id) AS last FROM logs').get() as { n: number; last: number };
    db.close();
    expect(n).toBe(last);
    expect(n % 200).toBe(0);
    expect(n).toBeGreaterThanOrEqual(5 * 200);

    await loki.setFault({ mode: 'none' });
    const restored = await startCollectorProcess({ configYaml: yaml, dataDir: dest });
    cleanup.push(() => restored.stop());
    expect(await found(restored, 'busy0')).toBe(200);
    expect(await found(restored, `busy${n / 200 - 1}`)).toBe(200);
    expect(await found(restored, `busy${n / 200}`)).toBe(0);
    // The exporter resumes from the backup's cursor: every record of the backup reaches Loki, once.
    await waitFor(() => loki.entries().length >= n, 60_000);
    const lines = loki.entries().map((e) => e.line);
    expect(new Set(lines).size).toBe(n);
  });

  it('refuses a directory that is not empty, writing nothing there (PERISCOPE_ERR_BACKUP_FAILED, exit status 2)', async () => {
    const c = await startCollectorProcess();
    cleanup.push(() => c.dispose());
    const dest = scratch();
    writeFileSync(join(dest, 'x'), 'x');
    const r = await runBackup(c.dataDir, dest);
    expect(r.code).toBe(2);
    expect(r.out).toContain(`PERISCOPE_ERR_BACKUP_FAILED: ${dest} exists and is not an empty directory`);
    expect(readdirSync(dest)).toEqual(['x']);
  });

  it('refuses a data directory without a collector database, naming it', async () => {
    const empty = scratch();
    const r = await runBackup(empty, join(scratch(), 'backup'));
    expect(r.code).toBe(2);
    expect(r.out).toContain(`PERISCOPE_ERR_BACKUP_FAILED: no collector data in ${empty}`);
  });
});
