// deploy/grafana/provisioning: the datasources the dashboards expect exist under the expected
// uids and types, and the dashboards provider loads the generated JSON.
// Formats: https://grafana.com/docs/grafana/latest/administration/provisioning/
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DATASOURCES, generateDashboards } from '../../dashboards/src/index.ts';
import { DEPLOY, readYaml } from './helpers.ts';

const datasources = readYaml(join(DEPLOY, 'grafana/provisioning/datasources/periscope.yaml'));
const providers = readYaml(join(DEPLOY, 'grafana/provisioning/dashboards/periscope.yaml'));

describe('datasource provisioning', () => {
  it('is apiVersion 1 with a list of datasources', () => {
    expect(datasources.apiVersion).toBe(1);
    expect(Array.isArray(datasources.datasources)).toBe(true);
  });

  it.each(Object.values(DATASOURCES).map((ds) => ({ name: ds.type, ds })))('provisions $name under the uid the dashboards use', ({ ds }) => {
    const found = datasources.datasources.filter((d: any) => d.uid === ds.uid);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ type: ds.type, name: ds.name, access: 'proxy' });
    expect(() => new URL(found[0].url)).not.toThrow();
  });

  it('has unique names and uids, and exactly one default (Prometheus)', () => {
    const list = datasources.datasources as any[];
    expect(new Set(list.map((d) => d.uid)).size).toBe(list.length);
    expect(new Set(list.map((d) => d.name)).size).toBe(list.length);
    expect(list.filter((d) => d.isDefault).map((d) => d.uid)).toEqual([DATASOURCES.prometheus.uid]);
  });

  it('points Elasticsearch at the exporter data stream with its time, message and level fields', () => {
    const es = datasources.datasources.find((d: any) => d.type === 'elasticsearch');
    expect(es.jsonData).toMatchObject({ index: 'logs-periscope-*', timeField: '@timestamp', logMessageField: 'message', logLevelField: 'log.level' });
  });

  it('every datasource a dashboard defaults to is provisioned', () => {
    const uids = new Set(datasources.datasources.map((d: any) => d.uid));
    for (const g of generateDashboards()) {
      for (const v of g.dashboard.templating?.list ?? []) {
        if (v.type === 'datasource') expect(uids.has(v.current?.value), `${g.file} $${v.name}`).toBe(true);
      }
    }
  });
});

describe('dashboard provisioning', () => {
  it('has one file provider for the generated dashboards that the UI cannot overwrite', () => {
    expect(providers.apiVersion).toBe(1);
    expect(providers.providers).toHaveLength(1);
    const p = providers.providers[0];
    expect(p).toMatchObject({ type: 'file', allowUiUpdates: false, disableDeletion: true, folder: 'Periscope' });
    expect(p.options.path).toMatch(/^\//);
  });

  it('the generated JSON the provider loads is in the repository', () => {
    for (const g of generateDashboards()) expect(existsSync(join(DEPLOY, 'grafana/dashboards', g.file)), g.file).toBe(true);
  });
});
