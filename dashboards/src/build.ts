#!/usr/bin/env node
// npm run dashboards            write deploy/grafana/dashboards/*.json from dashboards/src
// npm run dashboards -- --check exit 1 (writing nothing) when a committed file is stale
//
// Only files this generator owns are touched: stale *.json that carry the generated marker are
// removed; hand-made dashboards dropped in the folder are left alone.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GENERATED_MARKER, OUTPUT_DIR, generateDashboards } from './index.ts';

const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });

const generated = generateDashboards();
const wanted = new Map(generated.map((d) => [d.file, d.text]));
mkdirSync(OUTPUT_DIR, { recursive: true });

const problems: string[] = [];
for (const [file, text] of wanted) {
  const path = join(OUTPUT_DIR, file);
  let current: string | undefined;
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === text) continue;
  if (values.check) problems.push(`${path}: ${current === undefined ? 'missing' : 'differs from dashboards/src'}`);
  else {
    writeFileSync(path, text);
    console.log(`wrote ${path}`);
  }
}
for (const file of readdirSync(OUTPUT_DIR)) {
  if (!file.endsWith('.json') || wanted.has(file)) continue;
  const path = join(OUTPUT_DIR, file);
  if (!readFileSync(path, 'utf8').includes(GENERATED_MARKER)) continue;
  if (values.check) problems.push(`${path}: generated earlier but no longer produced by dashboards/src`);
  else {
    rmSync(path);
    console.log(`removed ${path}`);
  }
}

if (problems.length > 0) {
  console.error(`stale generated dashboards; run \`npm run dashboards\`:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
if (values.check) console.log(`${generated.length} dashboards up to date`);
