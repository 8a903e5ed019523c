import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ERR } from '../errors.ts';
import { backupDataDir } from './backup.ts';
import { openDatabase } from './database.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'periscope-backup-unit-'));
  dirs.push(dir);
  return dir;
}

describe('backupDataDir', () => {
  it('leaves nothing behind when a copy fails: not the files copied before it, nor the directory it created', async () => {
    const dataDir = scratch();
    const db = openDatabase(dataDir, 'normal');
    db.close();
    writeFileSync(join(dataDir, 'alerting.db'), 'not a database, and long enough to be read as one: '.repeat(100));
    const dest = join(scratch(), 'backup');
    await expect(backupDataDir(dataDir, dest)).rejects.toMatchObject({ code: ERR.BACKUP_FAILED });
    expect(existsSync(dest)).toBe(false);
  });

  it('empties a directory it was given empty when a copy fails', async () => {
    const dataDir = scratch();
    openDatabase(dataDir, 'normal').close();
    writeFileSync(join(dataDir, 'alerting.db'), 'not a database, and long enough to be read as one: '.repeat(100));
    const dest = scratch();
    await expect(backupDataDir(dataDir, dest)).rejects.toMatchObject({ code: ERR.BACKUP_FAILED });
    expect(readdirSync(dest)).toEqual([]);
  });
});
