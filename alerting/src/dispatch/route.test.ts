import { describe, expect, it } from 'vitest';
import { compileMatcher, compileMatchers, matchesAll, parseMatcherString } from './matchers.ts';
import { Route, type RouteConfig } from './route.ts';

type L = Record<string, string>;

describe('label matchers', () => {
  it.each<{ name: string; m: string; labels: L; want: boolean }>([
    { name: '= matches equal value', m: 'env="prod"', labels: { env: 'prod' }, want: true },
    { name: '= fails on other value', m: 'env="prod"', labels: { env: 'dev' }, want: false },
    { name: '= "" matches a missing label', m: 'env=""', labels: {}, want: true },
    { name: '!= matches other value', m: 'env!="prod"', labels: { env: 'dev' }, want: true },
    { name: '!= matches a missing label', m: 'env!="prod"', labels: {}, want: true },
    { name: '!= fails on equal value', m: 'env!=prod', labels: { env: 'prod' }, want: false },
    { name: '=~ is anchored (no substring match)', m: 'service=~"api"', labels: { service: 'api-gateway' }, want: false },
    { name: '=~ alternation matches', m: 'service=~"api|web"', labels: { service: 'web' }, want: true },
    { name: '=~ .* matches a missing label', m: 'service=~".*"', labels: {}, want: true },
    { name: '!~ fails when regex matches', m: 'service!~"api.*"', labels: { service: 'api-1' }, want: false },
    { name: '!~ matches when regex does not', m: 'service!~"api.*"', labels: { service: 'db' }, want: true },
    { name: 'quoted value with escaped quote', m: 'msg="say \\"hi\\""', labels: { msg: 'say "hi"' }, want: true },
  ])('$name', ({ m, labels, want }) => {
    expect(compileMatcher(m).test(labels)).toBe(want);
  });

  it.each([
    { name: 'no operator', text: 'env' },
    { name: 'bad label name', text: '1env="x"' },
    { name: 'unterminated quote', text: 'env="x' },
  ])('rejects $name', ({ text }) => {
    expect(() => compileMatcher(parseMatcherString(text))).toThrow(/bad matcher/);
  });

  it.each<{ name: string; m: string; labels: L; want: boolean }>([
    { name: 'comma-separated, unquoted (each must match)', m: 'severity=critical,team=db', labels: { severity: 'critical', team: 'db' }, want: true },
    { name: 'comma-separated, one fails', m: 'severity=critical,team=db', labels: { severity: 'critical', team: 'web' }, want: false },
    { name: 'in braces, quoted, with spaces', m: '{severity="critical", team=~"db|storage"}', labels: { severity: 'critical', team: 'storage' }, want: true },
    { name: 'a comma inside a quoted value is the value', m: 'msg="a,b", env!=dev', labels: { msg: 'a,b', env: 'prod' }, want: true },
    { name: 'a trailing comma', m: '{env="prod",}', labels: { env: 'prod' }, want: true },
  ])('a string of several matchers, as Alertmanager reads it: $name', ({ m, labels, want }) => {
    expect(matchesAll(compileMatchers([m]), labels)).toBe(want);
  });

  it.each([
    { name: 'an empty matcher between commas', text: 'a="1",,b="2"' },
    { name: 'a bad one among several', text: 'a="1",b' },
  ])('rejects $name', ({ text }) => {
    expect(() => compileMatchers([text])).toThrow(/bad matcher/);
  });

  it('accepts the Alertmanager API form { name, value, isRegex, isEqual }', () => {
    expect(compileMatcher({ name: 'a', value: 'x.*', isRegex: true, isEqual: false }).op).toBe('!~');
    expect(compileMatcher({ name: 'a', value: 'x', isRegex: false }).op).toBe('=');
  });
});

const tree: RouteConfig = {
  receiver: 'default',
  groupBy: ['alertname'],
  groupWait: '10s',
  routes: [
    { matchers: ['team="db"'], receiver: 'db', groupWait: '1m', routes: [{ matchers: ['severity="critical"'], receiver: 'db-pager', groupBy: ['...'] }] },
    { matchers: ['service=~"api|web"'], receiver: 'frontend', continue: true, muteTimings: ['nights'] },
    { matchers: ['service="api"'], receiver: 'api', repeatInterval: '1h' },
    { matchers: ['env="staging"'], escalation: 'staging-chain' },
  ],
};

describe('routing tree', () => {
  const root = new Route(tree);

  it.each<{ name: string; labels: L; want: string[] }>([
    { name: 'no child matches → root', labels: { alertname: 'A' }, want: ['default'] },
    { name: 'first matching child, no continue', labels: { team: 'db', severity: 'warning' }, want: ['db'] },
    { name: 'deepest match wins', labels: { team: 'db', severity: 'critical' }, want: ['db-pager'] },
    { name: 'continue: true lets the next sibling match too', labels: { service: 'api' }, want: ['frontend', 'api'] },
    { name: 'continue: true, next sibling does not match', labels: { service: 'web' }, want: ['frontend'] },
    { name: 'stops after first match without continue', labels: { team: 'db', service: 'api' }, want: ['db'] },
    { name: 'escalation target', labels: { env: 'staging' }, want: ['@staging-chain'] },
  ])('$name', ({ labels, want }) => {
    expect(root.match(labels).map((r) => r.opts.receiver ?? `@${r.opts.escalation}`)).toEqual(want);
  });

  it.each<{ name: string; labels: L; key: string; want: unknown }>([
    { name: 'groupWait inherited from parent', labels: { team: 'db', severity: 'critical' }, key: 'groupWaitMs', want: 60_000 },
    { name: 'groupWait inherited from root', labels: { service: 'web' }, key: 'groupWaitMs', want: 10_000 },
    { name: 'groupInterval default 5m', labels: { alertname: 'A' }, key: 'groupIntervalMs', want: 300_000 },
    { name: 'repeatInterval overridden', labels: { service: 'api', x: '1' }, key: 'repeatIntervalMs', want: 3_600_000 },
    { name: 'repeatInterval default 4h', labels: { alertname: 'A' }, key: 'repeatIntervalMs', want: 4 * 3_600_000 },
    { name: 'groupBy inherited', labels: { team: 'db' }, key: 'groupBy', want: ['alertname'] },
    { name: 'groupBy ... = all labels', labels: { team: 'db', severity: 'critical' }, key: 'groupByAll', want: true },
  ])('$name', ({ labels, key, want }) => {
    const r = root.match(labels).at(-1) as Route;
    expect(r.opts[key as keyof Route['opts']]).toEqual(want);
  });

  it('muteTimings are not inherited (as Alertmanager)', () => {
    const parent = new Route({ receiver: 'a', muteTimings: ['nights'], routes: [{ matchers: ['x="1"'] }] });
    expect(parent.opts.muteTimings).toEqual(['nights']);
    expect(parent.match({ x: '1' })[0].opts.muteTimings).toEqual([]);
  });

  it('a child setting receiver clears an inherited escalation', () => {
    const r = new Route({ escalation: 'chain', routes: [{ matchers: ['x="1"'], receiver: 'direct' }] });
    const child = r.match({ x: '1' })[0];
    expect(child.opts).toMatchObject({ receiver: 'direct', escalation: undefined });
  });

  it.each<{ name: string; groupBy: string[]; labels: L; want: string }>([
    { name: 'by listed labels', groupBy: ['alertname', 'service'], labels: { alertname: 'A', service: 'api', pod: 'p1' }, want: '{}:{alertname="A", service="api"}' },
    { name: 'missing group label left out', groupBy: ['alertname', 'service'], labels: { alertname: 'A' }, want: '{}:{alertname="A"}' },
    { name: 'no grouping: one group', groupBy: [], labels: { alertname: 'A' }, want: '{}:{}' },
    { name: '... groups by all', groupBy: ['...'], labels: { b: '2', a: '1' }, want: '{}:{a="1", b="2"}' },
  ])('group key $name', ({ groupBy, labels, want }) => {
    const r = new Route({ receiver: 'a', groupBy });
    expect(r.groupKey(r.groupLabels(labels))).toBe(want);
  });
});
