import { globSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { yamlErrorLine } from '../yaml-error.ts';
import { parseRulesConfig } from '../config.ts';
import { labelsClash, labelsClashMessage } from './clash.ts';
import { checkRuleFileShape, compileRule, type Rule, type RuleDefaults } from './schema.ts';

// Rule files: YAML documents `rules: [ … ]`, listed in periscope.yaml under `alerting.ruleFiles`.
// Every problem is reported as `<file>: <key>: <message>`, e.g. `rules/cpu.yaml: rules[2].threshold: must be number`.

export interface RuleFileResult {
  /** Files read, after glob expansion. */
  files: string[];
  rules: Rule[];
  problems: string[];
  /** Not errors, but likely mistakes: a glob that matches no file (`rules/*.yml` for .yaml files). */
  warnings: string[];
}

/**
 * Expands `*` globs and resolves relative paths against `baseDir`. A glob matching nothing is
 * valid (the folder may be filled later, as with Prometheus' rule_files) and is listed in `unmatched`.
 */
function expandRuleFiles(paths: string[], baseDir = process.cwd()): { files: string[]; unmatched: string[] } {
  const out: string[] = [];
  const unmatched: string[] = [];
  for (const p of paths) {
    const abs = isAbsolute(p) ? p : resolve(baseDir, p);
    if (!/[*?[]/.test(p)) out.push(abs);
    else {
      const matches = globSync(abs).sort();
      if (matches.length === 0) unmatched.push(p);
      out.push(...matches);
    }
  }
  return { files: [...new Set(out)], unmatched };
}

/**
 * Reads, validates and compiles the rules of every file. Never throws; ids must be unique across
 * files, and so must the labels the rules give their alerts (rules/clash.ts).
 */
export function loadRuleFiles(paths: string[], options: { baseDir?: string; defaults: RuleDefaults }): RuleFileResult {
  const { files, unmatched } = expandRuleFiles(paths, options.baseDir);
  const warnings = unmatched.map((p) => `${p}: matches no file`);
  const rules: Rule[] = [];
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      problems.push(`${file}: cannot read: ${(err as Error).message}`);
      continue;
    }
    let doc: unknown;
    try {
      doc = parseYaml(text, { merge: true }); // merge keys, as in periscope.yaml and Prometheus rule files
    } catch (err) {
      problems.push(`${file}: (yaml): ${yamlErrorLine(err, text)}`);
      continue;
    }
    const shape = checkRuleFileShape(doc);
    if (shape.length) {
      problems.push(...shape.map((p) => `${file}: ${p.key}: ${p.message}`));
      continue;
    }
    (doc as { rules: unknown[] }).rules.forEach((raw, i) => {
      const prefix = `rules[${i}]`;
      const { rule, problems: ruleProblems } = compileRule(raw, { prefix, defaults: options.defaults, source: `file:${file}` });
      problems.push(...ruleProblems.map((p) => `${file}: ${p.key}: ${p.message}`));
      if (!rule) return;
      const other = seen.get(rule.id);
      if (other) {
        problems.push(`${file}: ${prefix}.${(raw as { id?: unknown }).id === undefined ? 'name' : 'id'}: duplicate rule id "${rule.id}" (first defined at ${other})`);
        return;
      }
      const clash = labelsClash(rule, rules);
      if (clash) {
        problems.push(`${file}: ${prefix}.name: ${labelsClashMessage(rule, clash)} (${seen.get(clash.id)})`);
        return;
      }
      seen.set(rule.id, `${file} ${prefix}`);
      rules.push(rule);
    });
  }
  return { files, rules, problems, warnings };
}

/**
 * What `periscope check-config` calls: validates rule files without starting anything.
 * `defaults` come from the alerting slice (default interval, flapping); omitted → built-in defaults.
 */
export function checkRuleFiles(paths: string[], options: { baseDir?: string; defaults?: RuleDefaults } = {}): { ok: boolean; files: string[]; rules: number; problems: string[]; warnings: string[] } {
  const defaults = options.defaults ?? parseRulesConfig({});
  const result = loadRuleFiles(paths, { defaults, ...(options.baseDir ? { baseDir: options.baseDir } : {}) });
  return { ok: result.problems.length === 0, files: result.files, rules: result.rules.length, problems: result.problems, warnings: result.warnings };
}
