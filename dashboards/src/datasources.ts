/**
 * The datasources the dashboards expect, with the stable uids under which
 * deploy/grafana/provisioning/datasources/periscope.yaml provisions them.
 * Panels never name these uids directly: they go through the datasource template variables
 * (house.ts), whose default is the provisioned uid, so a user with differently named
 * datasources picks theirs from the variable drop-down instead of editing JSON.
 * test/deploy/grafana-provisioning.test.ts checks that the YAML and this table agree.
 */
export const DATASOURCES = {
  prometheus: { type: 'prometheus', uid: 'periscope-prometheus', name: 'Prometheus', variable: 'ds_prometheus' },
  loki: { type: 'loki', uid: 'periscope-loki', name: 'Loki', variable: 'ds_loki' },
  elasticsearch: { type: 'elasticsearch', uid: 'periscope-elasticsearch', name: 'Elasticsearch', variable: 'ds_elasticsearch' },
} as const;

export type DatasourceKind = keyof typeof DATASOURCES;
