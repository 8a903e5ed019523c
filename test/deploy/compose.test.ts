// deploy/docker-compose.yml cannot be run here (no Docker engine), so this checks what would
// break it: every mounted or copied file exists in the repository, the files land where the
// services read them, and ports and URLs agree across compose, Prometheus and Grafana
// provisioning. The collector's config file is validated by `periscope check-config`, and the
// image's install steps are replayed outside Docker.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/collector-process.ts';
import { NODE_FLAGS } from '../../collector/bin/node-flags.ts';
import { ENV_OVERRIDES } from '../../collector/src/config/load.ts';
import { DEPLOY, REPO_ROOT, readYaml, run } from './helpers.ts';

const compose = readYaml(join(DEPLOY, 'docker-compose.yml'));
const services: Record<string, any> = compose.services;
const promConfig = readYaml(join(DEPLOY, 'prometheus/prometheus.yml'));
const grafanaDatasources = readYaml(join(DEPLOY, 'grafana/provisioning/datasources/periscope.yaml')).datasources as any[];
const grafanaProviders = readYaml(join(DEPLOY, 'grafana/provisioning/dashboards/periscope.yaml')).providers as any[];

interface Mount {
  host: string; // absolute path on the host (bind) or the volume name
  target: string;
  bind: boolean;
}

/** Short-syntax volumes `source:target[:mode]`; a source starting with . or / is a bind mount. */
function mountsOf(name: string): Mount[] {
  return (services[name].volumes ?? []).map((v: string) => {
    const [source, target] = v.split(':');
    const bind = source.startsWith('.') || source.startsWith('/');
    return { host: bind ? join(DEPLOY, source) : source, target, bind };
  });
}

/** The host path behind a path inside a service's container (longest matching bind mount). */
function hostPathOf(name: string, containerPath: string): string | undefined {
  const m = mountsOf(name)
    .filter((x) => x.bind && (containerPath === x.target || containerPath.startsWith(`${x.target}/`)))
    .sort((a, b) => b.target.length - a.target.length)[0];
  return m ? join(m.host, posix.relative(m.target, containerPath)) : undefined;
}

/** Files matching a one-level glob (`dir/*.yml`) on the host. */
function globHost(pattern: string): string[] {
  const dir = dirname(pattern);
  const re = new RegExp(`^${pattern.slice(dir.length + 1).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
  return existsSync(dir) ? readdirSync(dir).filter((f) => re.test(f)) : [];
}

function flag(args: string[], name: string): string | undefined {
  return args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

const portOf = (addr: string) => Number(addr.slice(addr.lastIndexOf(':') + 1));
const collectorPort = portOf(services.collector.environment.PERISCOPE_HTTP_ADDR);
const prometheusPort = portOf(flag(services.prometheus.command, '--web.listen-address') ?? ':9090');
/** Ports the services listen on inside their containers (image defaults where not configured). */
const CONTAINER_PORTS: Record<string, number> = {
  collector: collectorPort,
  prometheus: prometheusPort,
  loki: 3100, // grafana/loki local-config.yaml: server.http_listen_port
  elasticsearch: 9200, // Elasticsearch http.port default
  grafana: 3000, // Grafana [server] http_port default
};

describe('docker-compose.yml', () => {
  it('runs collector, Prometheus, Loki, Elasticsearch and Grafana', () => {
    expect(Object.keys(services).sort()).toEqual(['collector', 'elasticsearch', 'grafana', 'loki', 'prometheus']);
  });

  it.each(Object.keys(services).map((name) => ({ name })))('$name: every bind-mounted host path exists in the repository', ({ name }) => {
    for (const m of mountsOf(name)) {
      if (m.bind) expect(existsSync(m.host), `${name}: ${relative(REPO_ROOT, m.host)} (mounted at ${m.target})`).toBe(true);
      else expect(compose.volumes, `${name}: named volume ${m.host}`).toHaveProperty(m.host);
    }
  });

  it.each(Object.keys(services).map((name) => ({ name })))('$name: publishes the port it listens on', ({ name }) => {
    const published = (services[name].ports ?? []).map((p: string) => Number(p.split(':').pop()!.split('/')[0]));
    expect(published).toContain(CONTAINER_PORTS[name]);
  });

  it('depends only on services that exist', () => {
    for (const [name, s] of Object.entries(services)) {
      const deps = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
      for (const d of deps) expect(services, `${name} depends on ${d}`).toHaveProperty(d);
    }
  });
});

describe('collector image and config', () => {
  const build = services.collector.build;
  const context = join(DEPLOY, build.context);
  const dockerfilePath = join(context, build.dockerfile);
  const dockerfile = readFileSync(dockerfilePath, 'utf8');
  const instructions = dockerfile.split('\n').filter((l) => /^[A-Z]+\s/.test(l));

  it('builds from the repository root with deploy/Dockerfile on Node 24', () => {
    expect(context).toBe(REPO_ROOT.replace(/\/$/, ''));
    expect(existsSync(dockerfilePath)).toBe(true);
    expect(instructions.find((l) => l.startsWith('FROM '))).toMatch(/^FROM node:24\b/);
  });

  it('COPY sources exist in the build context', () => {
    const copies = instructions.filter((l) => l.startsWith('COPY ') && !l.includes('--from'));
    expect(copies.length).toBeGreaterThan(0);
    for (const line of copies) {
      const parts = line.split(/\s+/).slice(1).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) expect(existsSync(join(context, src)), `${line}: ${src}`).toBe(true);
    }
  });

  it('no COPY source is excluded by deploy/Dockerfile.dockerignore', () => {
    const ignored = readFileSync(`${dockerfilePath}.dockerignore`, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#') && !l.includes('*'));
    for (const line of instructions.filter((l) => l.startsWith('COPY '))) {
      const sources = line.split(/\s+/).slice(1, -1).filter((p) => !p.startsWith('--'));
      for (const src of sources) {
        const path = src.replace(/\/$/, '');
        for (const pattern of ignored) expect(path === pattern || path.startsWith(`${pattern}/`), `${src} is ignored by "${pattern}"`).toBe(false);
      }
    }
  });

  it("docs/deploy.md names each variable the image sets that overrides a key of the mounted file, and that key", () => {
    const set = dockerfile
      .replace(/\\\n\s*/g, ' ') // continuation lines joined
      .split('\n')
      .filter((l) => l.startsWith('ENV '))
      .flatMap((l) => [...l.matchAll(/(\w+)=(\S+)/g)].map(([, name, value]) => ({ name, value })))
      .filter(({ name }) => Object.hasOwn(ENV_OVERRIDES, name));
    // The addresses (all interfaces, in a container) and the data directory (the volume); the log level keeps its default.
    expect(set.map((v) => v.name).sort()).toEqual(['PERISCOPE_DATA_DIR', 'PERISCOPE_HTTP_ADDR', 'PERISCOPE_SYSLOG_ADDR']);
    const doc = readFileSync(join(REPO_ROOT, 'docs/deploy.md'), 'utf8');
    const start = doc.indexOf('## The collector image');
    const section = doc.slice(start, doc.indexOf('\n## ', start));
    for (const { name, value } of set) {
      expect(section).toContain(`\`${name}=${value}\``);
      expect(section).toContain(`\`${ENV_OVERRIDES[name].join('.')}\``);
    }
  });

  it('the entry point is the collector CLI', () => {
    const entry = JSON.parse(instructions.find((l) => l.startsWith('ENTRYPOINT '))!.slice('ENTRYPOINT '.length));
    expect(entry[0]).toBe('node');
    expect(existsSync(join(context, entry.at(-1))), entry.at(-1)).toBe(true);
    // node gets the V8 flags itself: periscope start re-executes node when they are missing.
    expect(entry).toEqual(['node', ...NODE_FLAGS, 'collector/bin/periscope.ts']);
  });

  it('the config file the collector is started with is mounted and valid (periscope check-config)', () => {
    const args: string[] = services.collector.command;
    const containerConfig = args[args.indexOf('--config') + 1];
    const hostConfig = hostPathOf('collector', containerConfig);
    expect(hostConfig, `${containerConfig} is not mounted`).toBeDefined();
    const r = run(process.execPath, [join(REPO_ROOT, 'collector/bin/periscope.ts'), 'check-config', hostConfig!]);
    expect(r.status, r.output).toBe(0);
  });

  it('its exporters send to compose services, on the ports they listen on', () => {
    const args: string[] = services.collector.command;
    const config = readYaml(hostPathOf('collector', args[args.indexOf('--config') + 1])!);
    const exporters = config.exporters as Array<{ type: string; url: string }>;
    expect(exporters.map((e) => e.type).sort()).toEqual(['elasticsearch', 'loki']);
    for (const e of exporters) {
      const url = new URL(e.url);
      expect(services, e.url).toHaveProperty(url.hostname);
      expect(Number(url.port), e.url).toBe(CONTAINER_PORTS[url.hostname]);
      expect(services.collector.depends_on, `collector waits for ${url.hostname}`).toHaveProperty(url.hostname);
    }
  });

  it("installs and starts from the Dockerfile's steps, replayed without Docker", async () => {
    // COPY and the `npm ci` RUN, in order, into a scratch /app: what the image would hold, so a
    // dependency the collector imports but only dev installs have, or an install step that needs
    // a dev tool, fails here. `npm cache clean` is left out: it would empty this machine's cache.
    const app = mkdtempSync(join(tmpdir(), 'periscope-image-'));
    const skip = (src: string) => !/(^|\/)(node_modules|data|dist)(\/|$)|\.test\.ts$/.test(relative(REPO_ROOT, src));
    for (const line of instructions) {
      const [op, ...rest] = line.split(/\s+/);
      if (op === 'COPY') {
        const dest = rest.at(-1)!;
        if (dest.startsWith('/')) continue; // outside WORKDIR: the baked config, not needed to start
        for (const src of rest.slice(0, -1)) cpSync(join(context, src), join(app, dest.endsWith('/') && !src.endsWith('/') ? join(dest, basename(src)) : dest), { recursive: true, filter: skip });
      } else if (op === 'RUN' && rest[0] === 'npm' && rest[1] === 'ci') {
        const npmArgs = line.slice('RUN npm '.length).split('&&')[0].trim().split(/\s+/);
        const r = run('npm', [...npmArgs, '--prefer-offline', '--loglevel=error'], { cwd: app, timeoutMs: 120_000, env: { NODE_ENV: 'production' } });
        expect(r.status, r.output).toBe(0);
      }
    }
    const dataDir = mkdtempSync(join(tmpdir(), 'periscope-image-data-'));
    const collector = spawn(process.execPath, [join(app, 'collector/bin/periscope.ts'), 'start'], {
      cwd: app,
      env: { ...process.env, NODE_ENV: 'production', PERISCOPE_HTTP_ADDR: '127.0.0.1:0', PERISCOPE_SYSLOG_ADDR: '127.0.0.1:0', PERISCOPE_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    collector.stdout.on('data', (d) => (output += d));
    collector.stderr.on('data', (d) => (output += d));
    const exited = once(collector, 'exit');
    const startedLine = '"periscope collector started"';
    await waitFor(() => output.includes(startedLine) || collector.exitCode !== null, 30_000);
    collector.kill('SIGTERM');
    await exited;
    expect(output.includes(startedLine), output).toBe(true);
  }, 180_000);

  it('its data directory is a volume', () => {
    const dataDir = services.collector.environment.PERISCOPE_DATA_DIR;
    expect(mountsOf('collector').find((m) => m.target === dataDir)?.bind).toBe(false);
  });
});

describe('Prometheus wiring', () => {
  const args: string[] = services.prometheus.command;
  const containerConfig = flag(args, '--config.file')!;
  const configDir = posix.dirname(containerConfig);

  it('is started with deploy/prometheus/prometheus.yml', () => {
    expect(hostPathOf('prometheus', containerConfig)).toBe(join(DEPLOY, 'prometheus/prometheus.yml'));
  });

  it('finds the rule files and file_sd targets where the config says (relative to the config file)', () => {
    const globs: string[] = [...promConfig.rule_files, ...promConfig.scrape_configs.flatMap((s: any) => (s.file_sd_configs ?? []).flatMap((f: any) => f.files))];
    expect(globs.length).toBeGreaterThan(1);
    for (const g of globs) {
      const host = hostPathOf('prometheus', posix.join(configDir, g));
      expect(host, `${g} is not mounted into the Prometheus container`).toBeDefined();
      expect(globHost(host!).length, `${g} matches no file in ${relative(REPO_ROOT, dirname(host!))}`).toBeGreaterThan(0);
    }
  });

  it('scrapes the collector at its HTTP port, keeping the labels of relayed app metrics', () => {
    const job = promConfig.scrape_configs.find((s: any) => s.job_name === 'periscope-collector');
    expect(job.honor_labels).toBe(true);
    expect(job.metrics_path ?? '/metrics').toBe('/metrics');
    expect(job.static_configs.flatMap((c: any) => c.targets)).toEqual([`collector:${collectorPort}`]);
  });

  it("sends alerts to the collector's Alertmanager-compatible API (v2)", () => {
    const [am] = promConfig.alerting.alertmanagers;
    expect(am.api_version).toBe('v2');
    expect(am.path_prefix ?? '/').toBe('/');
    expect(am.static_configs.flatMap((c: any) => c.targets)).toEqual([`collector:${collectorPort}`]);
  });
});

describe('Grafana wiring', () => {
  it('mounts both provisioning folders where Grafana reads them', () => {
    for (const kind of ['datasources', 'dashboards']) {
      expect(hostPathOf('grafana', `/etc/grafana/provisioning/${kind}/periscope.yaml`)).toBe(join(DEPLOY, `grafana/provisioning/${kind}/periscope.yaml`));
    }
  });

  it('the dashboards provider path is where the generated JSON is mounted', () => {
    const path = grafanaProviders[0].options.path;
    const host = hostPathOf('grafana', path);
    expect(host, `${path} is not mounted`).toBe(join(DEPLOY, 'grafana/dashboards'));
    expect(statSync(host!).isDirectory()).toBe(true);
  });

  it('the home dashboard exists', () => {
    const home = services.grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    const host = hostPathOf('grafana', home);
    expect(host && existsSync(host), home).toBe(true);
  });

  it.each(grafanaDatasources.map((d) => ({ name: d.name, d })))('$name datasource URL names a compose service and the port it listens on', ({ d }) => {
    const url = new URL(d.url);
    expect(services, url.hostname).toHaveProperty(url.hostname);
    expect(Number(url.port)).toBe(CONTAINER_PORTS[url.hostname]);
    expect(url.protocol).toBe('http:');
  });
});
