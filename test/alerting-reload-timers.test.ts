// A configuration pushed again and again (a config management run every few minutes) through the
// real collector: a reload that changes the routing keeps each group's timing, so an alert added
// to a group that has notified waits for the group's groupInterval, and a reload that changes
// nothing does nothing (alerting/src/dispatch/grouping.test.ts has the timings on a fake clock).
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiPost, startStandIn, type StandIn } from './helpers/alerting.ts';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';

let hook: StandIn;
let collector: CollectorProcess;

/** `version` changes a receiver the alerts do not go to: a routing change all the same. */
const config = (version: number) => `alerting:
  receivers:
    - name: a
      webhook: [{ url: '${hook.url}/a' }]
    - name: probe
      webhook: [{ url: '${hook.url}/probe' }]
    - name: unused
      webhook: [{ url: '${hook.url}/unused/${version}' }]
  route:
    receiver: a
    groupBy: [alertname]
    groupWait: 0s
    groupInterval: 1h
    repeatInterval: 4h
    routes:
      - { matchers: ['probe="yes"'], receiver: probe }
`;

const post = (path: string, body?: unknown) => apiPost(collector.url, path, body);

/** The instances of each message to `path`, in order. */
const receivedBy = (path: string) => hook.requests.filter((r) => r.url === path).map((r) => (JSON.parse(r.body).alerts as { labels: { instance: string } }[]).map((a) => a.labels.instance).join(','));

beforeAll(async () => {
  hook = await startStandIn();
  collector = await startCollectorProcess({ configYaml: config(0) });
});

afterAll(async () => {
  await collector?.dispose();
  await hook?.close();
});

describe('reloading the routing again and again', () => {
  it('an alert added to a group that has notified is not sent at a reload, only at the group\'s next groupInterval tick', async () => {
    expect((await post('/api/v2/alerts', [{ labels: { alertname: 'DiskFull', instance: '1' } }])).status).toBe(200);
    await waitFor(() => receivedBy('/a').length === 1);
    expect((await post('/api/v2/alerts', [{ labels: { alertname: 'DiskFull', instance: '2' } }])).status).toBe(200);

    for (let version = 1; version <= 3; version++) {
      writeFileSync(collector.configFile as string, config(version));
      expect((await post('/-/reload')).status).toBe(200);
      // The same file again: nothing to apply.
      expect((await post('/-/reload')).status).toBe(200);
    }
    expect(collector.output().match(/alerting notifications reloaded/g)).toHaveLength(3);
    // A probe alert sent after the reloads and notified at once: the rebuilt DiskFull group's
    // flush, had it been due, came before it.
    expect((await post('/api/v2/alerts', [{ labels: { alertname: 'Probe', instance: 'p', probe: 'yes' } }])).status).toBe(200);
    await waitFor(() => receivedBy('/probe').length === 1);
    expect(receivedBy('/a')).toEqual(['1']);
  });

  it('the same configuration with its keys in another order (another generator, a hand edit) is no change: the pipeline is not replaced', async () => {
    const reloads = () => collector.output().match(/alerting notifications reloaded/g)?.length ?? 0;
    const before = reloads();
    const reordered = config(3)
      .replace('    groupBy: [alertname]\n    groupWait: 0s\n', '    groupWait: 0s\n    groupBy: [alertname]\n')
      .replace(`    - name: a\n      webhook: [{ url: '${hook.url}/a' }]`, `    - webhook: [{ url: '${hook.url}/a' }]\n      name: a`);
    expect(reordered).not.toBe(config(3));
    // The default written out is no change either (its keys came in another order than the defaults').
    writeFileSync(collector.configFile as string, `${reordered}store:\n  retention: { maxAge: 7d }\n`);
    expect((await post('/-/reload')).json.restartNeeded).toEqual([]);
    writeFileSync(collector.configFile as string, `${reordered}store:\n  retention: { maxAge: 3d }\n`);
    const res = await post('/-/reload');
    expect(res.status).toBe(200);
    expect(res.json.restartNeeded).toEqual(['store']);
    writeFileSync(collector.configFile as string, reordered);
    expect((await post('/-/reload')).json.restartNeeded).toEqual([]);
    expect(reloads()).toBe(before);
  });
});
