// Backups of a running collector's data directory, and restores (docs/deploy.md, "Backup and
// restore"): what a restored collector finds, searches and sends again.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
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

/** `periscope backup|restore …` with PERISCOPE_DATA_DIR set: its exit status and output. */
function runCli(command: 'backup' | 'restore', dataDir: string, ...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO_ROOT, 'collector/bin/periscope.ts'), command, ...args], { env: { ...process.env, PERISCOPE_DATA_DIR: dataDir } }, (err, stdout, stderr) => {
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
    const taken = await runCli('backup', c.dataDir, dest);
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
    const r = await runCli('backup', c.dataDir, dest);
    expect(r.code).toBe(2);
    expect(r.out).toContain(`PERISCOPE_ERR_BACKUP_FAILED: ${dest} exists and is not an empty directory`);
    expect(readdirSync(dest)).toEqual(['x']);
  });

  it('refuses a data directory without a collector database, naming it', async () => {
    const empty = scratch();
    const r = await runCli('backup', empty, join(scratch(), 'backup'));
    expect(r.code).toBe(2);
    expect(r.out).toContain(`PERISCOPE_ERR_BACKUP_FAILED: no collector data in ${empty}`);
  });
});

/** Each database file of a data directory (companions included) and its contents' digest. */
function snapshotOf(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) if (/\.db/.test(name)) files[name] = createHash('sha256').update(readFileSync(join(dir, name))).digest('hex');
  return files;
}

/** A collector that took `records`, was backed up with `periscope backup` and stopped: its data directory, and the backup in `dest`. */
async function stoppedWithBackup(records: number): Promise<{ c: CollectorProcess; dest: string }> {
  const c = await startCollectorProcess();
  cleanup.push(() => c.dispose());
  await post(c, 'x', records);
  const dest = join(scratch(), 'backup');
  expect((await runCli('backup', c.dataDir, dest)).code).toBe(0);
  expect(await c.stop()).toBe(0);
  return { c, dest };
}

describe('periscope restore', () => {
  it('puts a backup in place of a killed collector\'s data, its later -wal moved aside, and a collector starts on it', { timeout: 120_000 }, async () => {
    const dataDir = scratch();
    const c = await startCollectorProcess({ dataDir });
    cleanup.push(() => c.kill());
    await post(c, 'kept', 300);
    const dest = join(scratch(), 'backup');
    expect((await runCli('backup', dataDir, dest)).code).toBe(0);
    await post(c, 'lost', 200);
    // Refused while the collector runs, moving nothing (the collector changes its files meanwhile).
    const before = readdirSync(dataDir).sort();
    const refused = await runCli('restore', dataDir, dest);
    expect(refused.code).toBe(2);
    expect(refused.out).toContain('PERISCOPE_ERR_DATA_DIR_LOCKED');
    expect(readdirSync(dataDir).sort()).toEqual(before);
    // kill -9: the records after the backup are in periscope.db-wal, which must not meet the backup's log.
    await c.kill();
    expect(readdirSync(dataDir)).toContain('periscope.db-wal');

    const r = await runCli('restore', dataDir, dest);
    expect(r.out).toContain(`restored into ${dataDir}`);
    expect(r.code).toBe(0);
    const aside = readdirSync(dataDir).find((name) => name.startsWith('replaced-'));
    expect(aside).toBeDefined();
    expect(readdirSync(join(dataDir, aside!))).toEqual(expect.arrayContaining(['periscope.db', 'periscope.db-wal', 'alerting.db']));
    expect(r.out).toContain(join(dataDir, aside!));
    expect(readdirSync(dataDir).filter((name) => /restoring|-wal$/.test(name))).toEqual([]);

    const restored = await startCollectorProcess({ dataDir });
    cleanup.push(() => restored.stop());
    await indexed(restored);
    expect(await found(restored, 'kept')).toBe(300);
    expect(await found(restored, 'lost')).toBe(0);
    await post(restored, 'new', 10);
    expect(await found(restored, 'new')).toBe(10);
  });

  it('refuses a damaged backup before replacing anything (PERISCOPE_ERR_RESTORE_FAILED)', { timeout: 60_000 }, async () => {
    const { c, dest } = await stoppedWithBackup(2000);
    // A copy cut short (a transfer interrupted): the log's second half missing.
    const log = join(dest, 'periscope.db');
    truncateSync(log, Math.floor(statSync(log).size / 2));
    const before = snapshotOf(c.dataDir);
    const r = await runCli('restore', c.dataDir, dest);
    expect(r.code).toBe(2);
    expect(r.out).toContain('PERISCOPE_ERR_RESTORE_FAILED: periscope.db of the backup is not a sound collector database');
    expect(r.out).toContain('nothing was changed');
    expect(snapshotOf(c.dataDir)).toEqual(before);
    expect(readdirSync(c.dataDir).filter((name) => name.includes('restoring') || name.startsWith('replaced-'))).toEqual([]);
  });

  it('refuses a directory that holds no backup, naming it', async () => {
    const empty = scratch();
    const r = await runCli('restore', scratch(), empty);
    expect(r.code).toBe(2);
    expect(r.out).toContain(`PERISCOPE_ERR_RESTORE_FAILED: no backup in ${empty}`);
  });

  // The container's case: the restore run as root, the collector as the data directory's owner.
  it.skipIf(process.getuid?.() !== 0)('run as root, gives the files to the owner of the data directory', { timeout: 60_000 }, async () => {
    const { c, dest } = await stoppedWithBackup(10);
    chownSync(c.dataDir, 1000, 1000);
    expect((await runCli('restore', c.dataDir, dest)).code).toBe(0);
    for (const file of ['periscope.db', 'periscope-fts.db', 'alerting.db']) expect(statSync(join(c.dataDir, file)).uid).toBe(1000);
  });
});
