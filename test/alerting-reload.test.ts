// A reload (POST /-/reload, as SIGHUP) applies periscope.yaml's routing — routes, receivers,
// escalations, inhibition rules — as Alertmanager does, through the real collector: what was
// notified is not notified again, a running escalation stays at its step, and a key read at start
// only is answered as needing a restart.
import { renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiPost, startStandIn, type StandIn } from './helpers/alerting.ts';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';

let hook: StandIn;
let collector: CollectorProcess;

const config = (extra: { receiverC?: boolean; routeC?: boolean; store?: string }) => `alerting:
  receivers:
    - name: a
      webhook: [{ url: '${hook.url}/a' }]
    - name: b
      webhook: [{ url: '${hook.url}/b' }]
${extra.receiverC ? `    - name: c\n      webhook: [{ url: '${hook.url}/c' }]\n` : ''}  escalations:
    - name: chain
      steps:
        - { notify: [a], wait: 1h }
        - { notify: [b], wait: 1h }
  route:
    escalation: chain
    groupBy: [alertname]
    groupWait: 0s
    groupInterval: 1h
${extra.routeC ? `    routes:\n      - { matchers: ['team="c"'], receiver: c }\n` : ''}${extra.store ?? ''}`;

const post = (path: string, body?: unknown) => apiPost(collector.url, path, body);

const receivedBy = (path: string) => hook.requests.filter((r) => r.url === path).map((r) => JSON.parse(r.body).commonLabels.alertname as string);

beforeAll(async () => {
  hook = await startStandIn();
  collector = await startCollectorProcess({ configYaml: config({}) });
});

afterAll(async () => {
  await collector?.dispose();
  await hook?.close();
});

describe('reloading the routing', () => {
  it('a new receiver and route are in effect after POST /-/reload; notified alerts are not notified again and a running chain keeps its step', async () => {
    expect((await post('/api/v2/alerts', [{ labels: { alertname: 'DiskFull', team: 'db' } }])).status).toBe(200);
    await waitFor(() => receivedBy('/a').length === 1);
    const chainBefore = await (await fetch(`${collector.url}/api/v1/escalations`)).json();
    expect(chainBefore.escalations).toEqual([expect.objectContaining({ status: 'running', step: 0 })]);

    writeFileSync(collector.configFile as string, config({ receiverC: true, routeC: true }));
    const res = await post('/-/reload');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'success', restartNeeded: [] });
    await waitFor(() => collector.output().includes('alerting notifications reloaded'));

    // The new route and receiver: a team="c" alert goes to c only.
    expect((await post('/api/v2/alerts', [{ labels: { alertname: 'QueueStuck', team: 'c' } }])).status).toBe(200);
    await waitFor(() => receivedBy('/c').length === 1);
    expect(receivedBy('/c')).toEqual(['QueueStuck']);
    // DiskFull's chain is where it was: no repeat to a, no early step to b.
    const chainAfter = await (await fetch(`${collector.url}/api/v1/escalations`)).json();
    expect(chainAfter.escalations).toEqual([expect.objectContaining({ groupKey: chainBefore.escalations[0].groupKey, status: 'running', step: 0, nextAt: chainBefore.escalations[0].nextAt })]);
    const pending = await (await fetch(`${collector.url}/api/v1/notifications?status=pending`)).json();
    expect(pending.notifications).toEqual([]);
    expect(receivedBy('/a')).toEqual(['DiskFull']);
    expect(receivedBy('/b')).toEqual([]);
  });

  it('a key read at start only is answered and logged as needing a restart; a broken file changes nothing', async () => {
    // The default repeatInterval written out is applied with the routing, not a restart.
    writeFileSync(collector.configFile as string, config({ receiverC: true, routeC: true, store: 'store:\n  retention: { maxAge: 3d }\n' }).replace('groupInterval: 1h', 'groupInterval: 1h\n    repeatInterval: 4h'));
    const res = await post('/-/reload');
    expect(res.status).toBe(200);
    expect(res.json.restartNeeded).toEqual(['store']);
    await waitFor(() => collector.output().includes('configuration changed in store: not applied until the collector restarts'));

    writeFileSync(collector.configFile as string, config({ receiverC: false, routeC: true })); // route to an unknown receiver
    const bad = await post('/-/reload');
    expect(bad.status).toBe(500);
    expect(bad.json.error.details.problems.join('\n')).toMatch(/unknown receiver "c"/);
    // periscope.yaml's problem, not a rule file's: its own code, and the file named.
    expect(bad.json.error.code).toBe('PERISCOPE_ERR_CONFIG_INVALID');
    expect(bad.json.error.details.file).toBe(collector.configFile);
    expect(bad.json.error.message).toContain(`${collector.configFile}: alerting.route.routes.0.receiver: unknown receiver "c"`);
    // The answer and the log say the routing stays too, not only the rules (the edit was a route).
    expect(bad.json.error.message).toMatch(/^alerting rule files and routing not reloaded, the rules and routing in effect are unchanged: /);
    await waitFor(() => collector.output().includes('alerting rule files and routing not reloaded: the configuration file has problems; the rules and routing in effect are unchanged'));
    expect((await post('/api/v2/alerts', [{ labels: { alertname: 'StillRouted', team: 'c' } }])).status).toBe(200);
    await waitFor(() => receivedBy('/c').length === 2);
  });

  it('a problem in a rule file keeps the rule code, its path in the problem; with one in periscope.yaml too, the configuration code', async () => {
    const rules = join(dirname(collector.configFile as string), 'rules.yaml');
    writeFileSync(rules, 'rules:\n  - { name: Broken, kind: log, mode: frequency, threshold: many }\n');
    const withRules = config({ receiverC: true, routeC: true, store: `  ruleFiles: [${rules}]\n` });
    writeFileSync(collector.configFile as string, withRules);
    const bad = await post('/-/reload');
    expect(bad.status).toBe(500);
    expect(bad.json.error.code).toBe('PERISCOPE_ERR_ALERT_RULE_INVALID');
    expect(bad.json.error.details.problems.join('\n')).toContain(`${rules}: rules[0]`);
    expect(bad.json.error.details.file).toBeUndefined();
    await waitFor(() => collector.output().includes('alerting rule files and routing not reloaded: a rule file has problems'));

    writeFileSync(collector.configFile as string, withRules.replace("receiver: c }", "receiver: nobody }"));
    const both = await post('/-/reload');
    expect(both.json.error.code).toBe('PERISCOPE_ERR_CONFIG_INVALID');
    expect(both.json.error.details.file).toBe(collector.configFile);
    expect(both.json.error.details.problems.join('\n')).toMatch(/unknown receiver "nobody"[\s\S]*rules\[0\]/);
    writeFileSync(collector.configFile as string, config({ receiverC: true, routeC: true }));
    expect((await post('/-/reload')).status).toBe(200);
  });

  it('a file read empty (caught while being rewritten) is refused: the routing in effect stays', async () => {
    writeFileSync(collector.configFile as string, '');
    const empty = await post('/-/reload');
    expect(empty.status).toBe(500);
    expect(empty.json.error.details.problems.join('\n')).toMatch(/the configuration file is empty/);
    expect((await post('/api/v2/alerts', [{ labels: { alertname: 'AfterEmpty', team: 'c' } }])).status).toBe(200);
    await waitFor(() => receivedBy('/c').includes('AfterEmpty'));
    writeFileSync(collector.configFile as string, '# being written\n');
    expect((await post('/-/reload')).status).toBe(500);
    // Moved away (a config reloader's rename): the file is named too.
    const aside = `${collector.configFile}.aside`;
    renameSync(collector.configFile as string, aside);
    const gone = await post('/-/reload');
    renameSync(aside, collector.configFile as string);
    expect(gone.json.error).toMatchObject({ code: 'PERISCOPE_ERR_CONFIG_UNREADABLE', details: { file: collector.configFile } });
  });
});
