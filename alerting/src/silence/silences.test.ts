import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../clock.ts';
import { ALERT_ERR, AlertError } from '../errors.ts';
import { openNotifyDatabase } from '../notify-db.ts';
import { alertEvent, FakeNotifier, receiversFor, startTestPipeline, type TestPipeline } from '../notify/testing/harness.ts';
import { Silences } from './silences.ts';

const M = 60_000;
const dirs: string[] = [];
let t: TestPipeline | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fresh() {
  const dir = mkdtempSync(join(tmpdir(), 'periscope-silences-'));
  dirs.push(dir);
  const clock = new FakeClock(Date.UTC(2025, 0, 6, 12));
  const db = openNotifyDatabase(dir);
  return { dir, clock, db, silences: new Silences(db, clock) };
}

const iso = (ms: number) => new Date(ms).toISOString();
const T0 = Date.UTC(2025, 0, 6, 12);
const valid = { matchers: ['alertname="DiskFull"'], endsAt: iso(T0 + 60 * M), createdBy: 'kim', comment: 'maintenance' };

describe('silences', () => {
  it.each([
    { name: 'no matchers', body: { ...valid, matchers: [] }, key: 'matchers' },
    { name: 'only matchers that match the empty string', body: { ...valid, matchers: ['a=""', 'b=~".*"'] }, key: 'matchers' },
    { name: 'bad regex', body: { ...valid, matchers: ['a=~"("'] }, key: 'matchers.0' },
    { name: 'matchers as one string, not a list', body: { ...valid, matchers: 'alertname="DiskFull"' }, key: 'matchers', message: /expected a list/ },
    { name: 'isRegex not a boolean', body: { ...valid, matchers: [{ name: 'alertname', value: 'Disk.*', isRegex: 'yes' }] }, key: 'matchers.0', message: /isRegex must be true or false/ },
    { name: 'missing createdBy', body: { ...valid, createdBy: '' }, key: 'createdBy' },
    { name: 'missing comment', body: { ...valid, comment: undefined }, key: 'comment' },
    { name: 'missing endsAt', body: { ...valid, endsAt: undefined }, key: 'endsAt' },
    { name: 'endsAt in the past', body: { ...valid, endsAt: iso(T0 - M) }, key: 'endsAt' },
    { name: 'endsAt not a timestamp', body: { ...valid, endsAt: 'tomorrow' }, key: 'endsAt' },
    // Read in the collector's local time, the same request meant another instant on another host.
    { name: 'endsAt without a zone', body: { ...valid, endsAt: iso(T0 + 60 * M).slice(0, -1) }, key: 'endsAt', message: /with its zone/ },
    { name: 'endsAt as free text Date.parse takes', body: { ...valid, endsAt: new Date(T0 + 60 * M).toUTCString() }, key: 'endsAt' },
    { name: 'endsAt before startsAt', body: { ...valid, startsAt: iso(T0 + 2 * 60 * M) }, key: 'endsAt' },
  ])('rejects $name with a coded error naming the key', ({ body, key, message }: { body: object; key: string; message?: RegExp }) => {
    const { silences } = fresh();
    const err = (() => {
      try {
        silences.upsert(body);
      } catch (e) {
        return e as AlertError;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(AlertError);
    expect(err?.code).toBe(ALERT_ERR.SILENCE_INVALID);
    expect(err?.details).toEqual({ key });
    if (message) expect(err?.message).toMatch(message);
  });

  it('a matcher string of several matchers (amtool, Alertmanager config) is each of them, not one value with commas', () => {
    const { silences, clock } = fresh();
    const s = silences.upsert({ ...valid, matchers: ['alertname=DiskFull,host=~"h1|h2"'] });
    expect(s.matchers).toEqual([{ name: 'alertname', op: '=', value: 'DiskFull' }, { name: 'host', op: '=~', value: 'h1|h2' }]);
    const mutes = (host: string) => silences.mutes({ labels: { alertname: 'DiskFull', host } } as never, { now: clock.now() }) !== undefined;
    expect([mutes('h1'), mutes('h3')]).toEqual([true, false]);
  });

  it('goes pending → active → expired with the clock, and mutes only while active', () => {
    const { silences, clock } = fresh();
    const s = silences.upsert({ ...valid, startsAt: iso(T0 + 10 * M), endsAt: iso(T0 + 20 * M) });
    const alert = { labels: { alertname: 'DiskFull', host: 'h1' } } as never;
    const states: string[] = [];
    for (const at of [T0, T0 + 10 * M, T0 + 20 * M]) {
      clock.set(at);
      states.push(`${silences.get(s.id).status.state}:${silences.mutes(alert, { now: at }) ? 'muted' : 'open'}`);
    }
    expect(states).toEqual(['pending:open', 'active:muted', 'expired:open']);
  });

  it('DELETE expires now; updating keeps the id; updating an expired silence creates a new one', () => {
    const { silences, clock } = fresh();
    const s = silences.upsert(valid);
    const updated = silences.upsert({ ...valid, id: s.id, comment: 'longer', endsAt: iso(T0 + 120 * M) });
    expect(updated).toMatchObject({ id: s.id, comment: 'longer', status: { state: 'active' } });
    clock.advance(M);
    expect(silences.expire(s.id)).toMatchObject({ endsAt: iso(T0 + M), status: { state: 'expired' } });
    const again = silences.upsert({ ...valid, id: s.id, endsAt: iso(T0 + 180 * M) });
    expect(again.id).not.toBe(s.id);
    expect(() => silences.expire('nope')).toThrow(expect.objectContaining({ code: ALERT_ERR.SILENCE_NOT_FOUND, statusCode: 404 }));
  });

  it('is persisted in alerting.db', () => {
    const { silences, db, clock } = fresh();
    const s = silences.upsert(valid);
    const reopened = new Silences(db, clock);
    expect(reopened.get(s.id)).toMatchObject({ matchers: [{ name: 'alertname', op: '=', value: 'DiskFull' }], createdBy: 'kim' });
    db.close();
  });

  it('in the pipeline: an expired silence is listed for 120 h, then forgotten without a restart', async () => {
    t = await startTestPipeline({ receivers: receiversFor(['team']), route: { receiver: 'team' } }, [new FakeNotifier('team/webhook/0', 'team')]);
    const s = t.pipeline.silences.upsert({ ...valid, endsAt: iso(t.clock.now() + 60 * M) });
    t.pipeline.silences.expire(s.id);
    await t.advance(119 * 60 * M);
    expect(t.pipeline.silences.list('expired').map((x) => x.id)).toEqual([s.id]);
    await t.advance(2 * 60 * M);
    expect(t.pipeline.silences.list()).toEqual([]);
  });

  it('in the pipeline: an alert silenced while firing that resolves under the silence is notified when it fires again later', async () => {
    const n = new FakeNotifier('team/webhook/0', 'team');
    t = await startTestPipeline({ receivers: receiversFor(['team']), route: { receiver: 'team', groupBy: ['alertname'], groupWait: '0s', groupInterval: '5m' } }, [n]);
    const t0 = t.clock.now();
    await t.pipeline.onTransition(alertEvent({ alertname: 'DiskFull', host: 'h1' }, 'firing', t0));
    await t.settle();
    expect(n.sent.map((m) => m.status)).toEqual(['firing']);
    const s = t.pipeline.silences.upsert({ ...valid, endsAt: iso(t0 + 60 * M) });
    await t.advance(10 * M);
    await t.pipeline.onTransition(alertEvent({ alertname: 'DiskFull', host: 'h1' }, 'resolved', t0, { endsAt: iso(t.clock.now()) }));
    await t.advance(10 * M); // the resolution is muted: no message, and the group empties
    t.pipeline.silences.expire(s.id);
    await t.advance(60 * M);
    await t.pipeline.onTransition(alertEvent({ alertname: 'DiskFull', host: 'h1' }, 'firing', t.clock.now()));
    await t.advance(M);
    // Not held back until repeatInterval (4h) as if the receiver still knew it firing.
    expect(n.sent.map((m) => m.status)).toEqual(['firing', 'firing']);
  });

  it('in the pipeline: a silenced alert is not notified; once the silence expires it is', async () => {
    const n = new FakeNotifier('team/webhook/0', 'team');
    t = await startTestPipeline({ receivers: receiversFor(['team']), route: { receiver: 'team', groupWait: '30s', groupInterval: '5m' } }, [n]);
    const t0 = t.clock.now();
    const s = t.pipeline.silences.upsert({ ...valid, endsAt: iso(t0 + 60 * M) });
    await t.pipeline.onTransition(alertEvent({ alertname: 'DiskFull', host: 'h1' }, 'firing', t0));
    await t.advance(30 * M);
    expect(n.sent).toHaveLength(0);
    const fp = t.pipeline.alerts()[0].fingerprint;
    expect(t.pipeline.timelineFor(fp).find((e) => e.kind === 'muted')?.details).toMatchObject({ kind: 'silence', by: s.id });
    t.pipeline.silences.expire(s.id);
    await t.advance(5 * M);
    expect(n.sent.map((m) => m.status)).toEqual(['firing']);
  });
});
