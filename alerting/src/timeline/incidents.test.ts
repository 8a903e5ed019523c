// Incidents in alerting.db: alerts that fire together are filed under one incident.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { NotifyAlert } from '../dispatch/alert.ts';
import { ALERTING_DB_FILE, openAlertingFile, openNotifyDatabase } from '../notify-db.ts';
import { Incidents, TIMELINE_RETENTION_MS } from './timeline.ts';

const T0 = Date.UTC(2026, 11, 7);

function alert(i: number, severity = 'warning'): NotifyAlert {
  return {
    fingerprint: `fp${i}`,
    labels: { alertname: `Alert${i}` },
    annotations: {},
    status: 'firing',
    state: 'firing',
    severity,
    value: null,
    startsAt: T0,
    endsAt: null,
    transitionId: 1,
    flapping: false,
    source: 'api',
    updatedAt: T0,
  };
}

describe('Incidents', () => {
  it('an incident joined by thousands of alerts keeps a body of constant size, with each alert named', () => {
    const db = openNotifyDatabase(mkdtempSync(join(tmpdir(), 'periscope-incidents-')));
    const incidents = new Incidents(db, 5 * 60_000);
    const n = 2000;
    const first = incidents.onFiring(alert(0), T0);
    for (let i = 1; i < n; i++) expect(incidents.onFiring(alert(i, i === n - 1 ? 'critical' : 'warning'), T0 + i).id).toBe(first.id);
    // The body held a map of every fingerprint, read, parsed and written again at each join: the
    // work of a large alert post grew with the square of its size (50 000 alerts: minutes).
    const { size } = db.prepare('SELECT length(body) AS size FROM notify_incidents WHERE id = ?').get(first.id) as { size: number };
    expect(size).toBeLessThan(200);
    const incident = incidents.get(first.id)!;
    expect(incident.severity).toBe('critical');
    expect(incident.alerts).toHaveLength(n);
    expect(incident.alerts.map((a) => a.alertname)).toEqual(Array.from({ length: n }, (_, i) => `Alert${i}`));
    db.close();
  });

  it('reads an alerting.db written before the alertname column: the column is added, the names come from the body', () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-incidents-'));
    const old = openAlertingFile(join(dir, ALERTING_DB_FILE));
    old.exec(`CREATE TABLE notify_incidents (id TEXT PRIMARY KEY, opened_at INTEGER NOT NULL, last_alert_at INTEGER NOT NULL, resolved_at INTEGER, body TEXT NOT NULL) STRICT;
      CREATE TABLE notify_incident_alerts (incident_id TEXT NOT NULL, fingerprint TEXT NOT NULL, joined_at INTEGER NOT NULL, resolved_at INTEGER, PRIMARY KEY (incident_id, fingerprint)) STRICT;`);
    old.prepare('INSERT INTO notify_incidents VALUES (?, ?, ?, NULL, ?)').run('inc-old', T0, T0, JSON.stringify({ title: 'Disk', severity: 'warning', names: { fpA: 'DiskFull' } }));
    old.prepare('INSERT INTO notify_incident_alerts VALUES (?, ?, ?, NULL)').run('inc-old', 'fpA', T0);
    old.close();

    const db = openNotifyDatabase(dir);
    const incidents = new Incidents(db, 5 * 60_000);
    expect(incidents.onFiring(alert(1), T0 + 1000).id).toBe('inc-old'); // joins the open incident
    expect(incidents.get('inc-old')!.alerts.map((a) => [a.fingerprint, a.alertname])).toEqual([
      ['fpA', 'DiskFull'],
      ['fp1', 'Alert1'],
    ]);
    db.close();
  });
});

describe('Incidents gc', () => {
  it('forgets, with the incidents it deletes, which incident their alerts were filed under: memory held stays within the retention', () => {
    const db = openNotifyDatabase(mkdtempSync(join(tmpdir(), 'periscope-incidents-')));
    const incidents = new Incidents(db, 5 * 60_000);
    // 500 label sets (a pod or request id in a label) each fire and resolve once, in an incident of their own.
    const n = 500;
    for (let i = 0; i < n; i++) {
      const at = T0 + i * 600_000;
      incidents.onFiring({ ...alert(i), startsAt: at }, at);
      expect(incidents.onResolved({ ...alert(i), status: 'resolved' }, at + 1000)?.closed).toBe(true);
    }
    const open = incidents.onFiring(alert(n), T0 + n * 600_000);
    const late = T0 + (n - 1) * 600_000 + 1000 + TIMELINE_RETENTION_MS;
    incidents.gc(late);
    // The last one resolved exactly at the cutoff and the open one stay; every older incident is gone, and so are its alerts.
    expect(incidents.currentOf(`fp${n}`)).toBe(open.id);
    expect(incidents.currentOf(`fp${n - 1}`)).toBeDefined();
    for (let i = 0; i < n - 1; i++) expect(incidents.currentOf(`fp${i}`)).toBeUndefined();
    db.close();
  });
});
