// Acknowledgements, per alert fingerprint and firing episode, persisted. An acknowledgement stops the
// escalation of that alert and ends when the alert resolves (or fires again as a new episode).
import type { DatabaseSync } from 'node:sqlite';
import type { NotifyAlert } from '../dispatch/alert.ts';

export interface Ack {
  fingerprint: string;
  /** startsAt (ms) of the firing episode that was acknowledged. */
  episode: number;
  by: string;
  comment?: string;
  /** RFC 3339. */
  at: string;
  via: 'api' | 'link';
}

export class Acks {
  readonly #db: DatabaseSync;
  readonly #acks = new Map<string, Ack>();

  constructor(db: DatabaseSync) {
    this.#db = db;
    for (const row of db.prepare('SELECT body FROM notify_acks').all() as { body: string }[]) {
      const a = JSON.parse(row.body) as Ack;
      this.#acks.set(a.fingerprint, a);
    }
  }

  set(ack: Ack): void {
    this.#acks.set(ack.fingerprint, ack);
    this.#db.prepare('INSERT INTO notify_acks(fingerprint, body) VALUES (?, ?) ON CONFLICT(fingerprint) DO UPDATE SET body = excluded.body').run(ack.fingerprint, JSON.stringify(ack));
  }

  /** The acknowledgement of this alert's current episode, if any. */
  of(alert: NotifyAlert): Ack | undefined {
    const a = this.#acks.get(alert.fingerprint);
    return a && a.episode === alert.startsAt && alert.status === 'firing' ? a : undefined;
  }

  get(fingerprint: string): Ack | undefined {
    return this.#acks.get(fingerprint);
  }

  /** Ends the acknowledgement (alert resolved or a new episode started). Returns it when there was one. */
  end(fingerprint: string): Ack | undefined {
    const a = this.#acks.get(fingerprint);
    if (!a) return undefined;
    this.#acks.delete(fingerprint);
    this.#db.prepare('DELETE FROM notify_acks WHERE fingerprint = ?').run(fingerprint);
    return a;
  }
}
