import { constants } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dataDirAccessProblem } from './data-dir-access.ts';

const uid = process.getuid?.();
const user = uid === undefined ? '' : ` (uid ${uid})`;

/** An access() that refuses `code` for the paths in `refused` (with W_OK in the mode), like the OS. */
function accessRefusing(refused: Partial<Record<string, string>>) {
  return (path: string, mode: number) => {
    const code = refused[path];
    if (code && mode & constants.W_OK) throw Object.assign(new Error(code), { code });
  };
}

describe('dataDirAccessProblem', () => {
  it.each([
    { name: 'a read-only file system', existing: ['/d', '/d/periscope.db'], refused: { '/d': 'EROFS' }, want: 'the directory is on a read-only file system' },
    { name: 'a directory the user cannot write', existing: ['/d'], refused: { '/d': 'EACCES' }, want: `the directory is not writable by this user${user}` },
    { name: 'a data file the user cannot write', existing: ['/d', '/d/lock.db', '/d/periscope.db'], refused: { '/d/periscope.db': 'EACCES' }, want: `periscope.db is not writable by this user${user}` },
    { name: 'a directory to create on a read-only file system (mkdir says ENOENT)', existing: ['/'], refused: { '/': 'EROFS' }, want: 'it does not exist, and /, where it would be created, is on a read-only file system' },
    { name: 'a directory to create in a folder the user cannot write', existing: ['/', '/var'], refused: { '/var': 'EACCES' }, want: `it does not exist, and /var, where it would be created, is not writable by this user${user}` },
    { name: 'nothing wrong with access (a damaged file, say)', existing: ['/d', '/d/periscope.db'], refused: {}, want: undefined },
    { name: 'a file in the way is not an access problem (mkdir says it)', existing: ['/', '/x.db'], refused: { '/x.db': 'EACCES' }, dir: '/x.db/data', want: undefined },
  ])('$name', ({ existing, refused, want, ...row }: { existing: string[]; refused: Partial<Record<string, string>>; want?: string; dir?: string }) => {
    const dir = row.dir ?? (want?.startsWith('it does not exist') ? (existing.includes('/var') ? '/var/lib/periscope' : '/data') : '/d');
    const kind = (p: string) => (existing.includes(p) ? (p.endsWith('.db') ? 'file' : 'directory') : undefined);
    expect(dataDirAccessProblem(dir, accessRefusing(refused), kind)).toBe(want);
  });
});
