// A reader for the Prometheus text exposition format 0.0.4 (what /metrics serves):
// https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format

/** → [{ name, labels: {k: v}, value }] (HELP/TYPE lines and timestamps are ignored). */
export function parsePrometheusText(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      let l;
      while ((l = re.exec(m[3]))) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    }
    const value = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
    samples.push({ name: m[1], labels, value });
  }
  return samples;
}

export function sum(samples, name, where = () => true) {
  let total = 0;
  let found = false;
  for (const s of samples) {
    if (s.name === name && where(s.labels)) {
      total += s.value;
      found = true;
    }
  }
  return found ? total : undefined;
}
