// `promtool check metrics` over exposition text (stdin), for tests that validate /metrics.
import { spawnSync } from 'node:child_process';

export interface PromtoolResult {
  /** 0 valid; 1 unparsable; 3 lint problems (promtool 2.42). */
  status: number | null;
  output: string;
}

export function promtoolCheckMetrics(promtool: string, text: string): PromtoolResult {
  const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}
