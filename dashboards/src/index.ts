import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { fileURLToPath } from 'node:url';
import { alerting } from './alerting.ts';
import { collectorHealth } from './collector-health.ts';
import { renderDashboard } from './house.ts';
import { serviceOverview } from './service-overview.ts';

export { DATASOURCES } from './datasources.ts';
export { GENERATED_MARKER } from './house.ts';
export { RED } from './recorded.ts';

/** Where the generated JSON goes; deploy/grafana/provisioning/dashboards/periscope.yaml loads it. */
export const OUTPUT_DIR = fileURLToPath(new URL('../../deploy/grafana/dashboards/', import.meta.url));

export interface GeneratedDashboard {
  /** File name inside OUTPUT_DIR. */
  file: string;
  dashboard: dashboard.Dashboard;
  text: string;
}

/** Every dashboard, built fresh (the builders are not shared between calls). */
export function generateDashboards(): GeneratedDashboard[] {
  return [
    { file: 'service-overview.json', dashboard: serviceOverview() },
    { file: 'collector-health.json', dashboard: collectorHealth() },
    { file: 'alerting.json', dashboard: alerting() },
  ].map((d) => ({ ...d, text: renderDashboard(d.dashboard) }));
}
