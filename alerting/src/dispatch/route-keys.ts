// Moves the state kept under group keys (the notification log, escalations, the outbox's per-group
// order) from the route ids versions before 2026-12 wrote — each level's position appended,
// `{}/{severity="critical"}/1:{…}` — to the position-free ids (`{}/{severity="critical"}:{…}`),
// once per alerting.db. Without it the first start of this version would see no notification log
// for the groups of every route not first among its siblings, notify their firing alerts again and
// start their escalations over.
// It maps the ids of the configured routes only: state of a route the config no longer has (or
// that moved at the same time) stays under its old key, as it would have before (a new group).
import type { DatabaseSync } from 'node:sqlite';
import { inTransaction, kvGet, kvSet } from '../notify-db.ts';
import type { Route } from './route.ts';

const DONE_KEY = 'route_keys';
const DONE_VALUE = 'matchers';

export function migrateRouteKeys(db: DatabaseSync, root: Route): void {
  if (kvGet(db, DONE_KEY) === DONE_VALUE) return;
  const moves: Array<{ from: string; to: string }> = [];
  root.walk((r) => {
    if (r.legacyId !== r.id) moves.push({ from: `${r.legacyId}:`, to: `${r.id}:` });
  });
  // The longest old id first: a route's key is the prefix of no other route's group key (a
  // child's id goes on with '/', not ':'), so this is only a safeguard.
  moves.sort((a, b) => b.from.length - a.from.length);
  const moved = (key: string): string | undefined => {
    const m = moves.find((mv) => key.startsWith(mv.from));
    return m ? m.to + key.slice(m.from.length) : undefined;
  };
  inTransaction(db, () => {
    if (moves.length > 0) {
      // Read all first, then write: an old id may be the new id of another route (`…/1`).
      const nflog = db.prepare('SELECT key, body, updated_at FROM notify_nflog').all() as Array<{ key: string; body: string; updated_at: number }>;
      const escalations = db.prepare('SELECT group_key, body FROM notify_escalations').all() as Array<{ group_key: string; body: string }>;
      const outbox = db.prepare('SELECT id, group_key FROM notify_outbox').all() as Array<{ id: number; group_key: string }>;
      const nflogMoves = nflog.flatMap((r) => {
        const to = moved(r.key);
        return to === undefined ? [] : [{ ...r, to }];
      });
      const escalationMoves = escalations.flatMap((r) => {
        const to = moved(r.group_key);
        return to === undefined ? [] : [{ ...r, to }];
      });
      const delNflog = db.prepare('DELETE FROM notify_nflog WHERE key = ?');
      const delEscalation = db.prepare('DELETE FROM notify_escalations WHERE group_key = ?');
      for (const r of nflogMoves) delNflog.run(r.key);
      for (const r of escalationMoves) delEscalation.run(r.group_key);
      const putNflog = db.prepare('INSERT OR REPLACE INTO notify_nflog(key, body, updated_at) VALUES (?, ?, ?)');
      for (const r of nflogMoves) putNflog.run(r.to, r.body, r.updated_at);
      const putEscalation = db.prepare('INSERT OR REPLACE INTO notify_escalations(group_key, body) VALUES (?, ?)');
      for (const r of escalationMoves) putEscalation.run(r.to, JSON.stringify({ ...(JSON.parse(r.body) as object), groupKey: r.to }));
      const setOutbox = db.prepare('UPDATE notify_outbox SET group_key = ? WHERE id = ?');
      for (const r of outbox) {
        const to = moved(r.group_key);
        if (to !== undefined) setOutbox.run(to, r.id);
      }
    }
    kvSet(db, DONE_KEY, DONE_VALUE);
  });
}
