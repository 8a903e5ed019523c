import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { dropOtherQueues, RequestQueue } from './request-queue.ts';

describe('RequestQueue', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  function dbFile(): string {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-rwq-'));
    dirs.push(dir);
    return join(dir, 'db.sqlite');
  }
  const bytes = (...b: number[]) => new Uint8Array(b);

  it('a queue opened again on the same database has the requests not removed, in order, bodies and sizes included', () => {
    const file = dbFile();
    const db = new DatabaseSync(file);
    const q = new RequestQueue('prw', db);
    q.push(bytes(1), 10, 1_000);
    q.push(bytes(2, 2), 20, 2_000);
    q.push(bytes(3, 3, 3), 30, 3_000);
    expect(q.removeAt(0).samples).toBe(10);
    db.close();

    const again = new RequestQueue('prw', new DatabaseSync(file));
    expect([again.length, again.samples, again.bytes]).toEqual([2, 50, 5]);
    expect(again.head?.at).toBe(2_000);
    expect(again.body(again.head!)).toEqual(bytes(2, 2));
    again.removeAt(0);
    again.push(bytes(4), 40, 4_000); // after the restored ones
    expect(again.body(again.head!)).toEqual(bytes(3, 3, 3));
    again.removeAt(0);
    expect(again.body(again.head!)).toEqual(bytes(4));
    expect(again.head?.samples).toBe(40);
  });

  it('exporters keep their own queues', () => {
    const db = new DatabaseSync(dbFile());
    new RequestQueue('a', db).push(bytes(1), 1, 1);
    const b = new RequestQueue('b', db);
    b.push(bytes(2), 2, 2);
    expect(new RequestQueue('a', db).samples).toBe(1);
    expect(new RequestQueue('b', db).samples).toBe(2);
  });

  it('a request the database cannot take stays in memory, said once, and storing is said to work again', () => {
    const db = new DatabaseSync(dbFile());
    const said: Array<string | undefined> = [];
    const q = new RequestQueue('prw', db, (err) => said.push(err?.message));
    db.exec('PRAGMA query_only = 1'); // every write fails, as on a full disk
    q.push(bytes(1), 1, 1);
    q.push(bytes(2), 2, 2);
    db.exec('PRAGMA query_only = 0');
    q.push(bytes(3), 3, 3);
    expect(said).toHaveLength(2);
    expect(said[0]).toMatch(/readonly/);
    expect(said[1]).toBeUndefined();
    expect([q.body(q.removeAt(0)), q.body(q.head!)]).toEqual([bytes(1), bytes(2)]);
    // Only the stored one is there after a restart.
    expect(new RequestQueue('prw', db).samples).toBe(3);
  });

  it('the queues of remote writers no longer configured are dropped, with their samples', () => {
    const db = new DatabaseSync(dbFile());
    new RequestQueue('kept', db).push(bytes(1), 5, 1);
    const gone = new RequestQueue('gone', db);
    gone.push(bytes(1), 7, 1);
    gone.push(bytes(1), 8, 2);
    expect([...dropOtherQueues(db, ['kept'])]).toEqual([['gone', 15]]);
    expect(new RequestQueue('gone', db).length).toBe(0);
    expect(new RequestQueue('kept', db).samples).toBe(5);
  });
});
