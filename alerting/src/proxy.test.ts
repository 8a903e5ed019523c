import { describe, expect, it } from 'vitest';
import { bypassed, displayProxy, proxyEnvironment, proxyEnvironmentProblem, proxyFor, proxyProblems, proxySecrets } from './proxy.ts';

describe('noProxy (NO_PROXY) matching', () => {
  it.each([
    { name: 'the exact host', noProxy: 'loki.internal', url: 'https://loki.internal/x', bypass: true },
    { name: 'a subdomain of a name', noProxy: 'internal', url: 'https://loki.internal', bypass: true },
    { name: 'a leading dot: the name and its subdomains', noProxy: '.internal', url: 'https://internal', bypass: true },
    { name: '*.domain: subdomains only', noProxy: '*.internal', url: 'https://internal', bypass: false },
    { name: '*.domain matches a subdomain', noProxy: '*.internal', url: 'https://a.internal', bypass: true },
    { name: 'another name', noProxy: 'example.com', url: 'https://notexample.com', bypass: false },
    { name: 'host:port, that port', noProxy: '127.0.0.1:3100', url: 'http://127.0.0.1:3100', bypass: true },
    { name: 'host:port, another port', noProxy: '127.0.0.1:3100', url: 'http://127.0.0.1:3101', bypass: false },
    { name: 'the default port', noProxy: 'hooks.slack.com:443', url: 'https://hooks.slack.com/services/x', bypass: true },
    { name: '* for all', noProxy: 'a, *', url: 'https://anything', bypass: true },
    { name: 'IPv6', noProxy: '[::1]:8080', url: 'http://[::1]:8080', bypass: true },
    { name: 'case and spaces', noProxy: ' Loki.Internal ,x', url: 'https://LOKI.internal', bypass: true },
    { name: 'empty', noProxy: '', url: 'https://x', bypass: false },
    { name: 'a CIDR range, as Go (Prometheus) reads it', noProxy: 'a.b, 10.0.0.0/8', url: 'http://10.1.2.3:3100', bypass: true },
    { name: 'outside the CIDR range', noProxy: '10.0.0.0/8', url: 'http://11.1.2.3', bypass: false },
    { name: 'an IPv6 CIDR range', noProxy: 'fd00::/8', url: 'http://[fd12::1]:9200', bypass: true },
    { name: 'a CIDR range and a name', noProxy: '10.0.0.0/8', url: 'http://ten.internal', bypass: false },
  ])('$name', ({ noProxy, url, bypass }) => {
    expect(bypassed(noProxy, new URL(url))).toBe(bypass);
  });
});

describe('proxyFor', () => {
  const env = proxyEnvironment({ HTTP_PROXY: 'http://p:3128', https_proxy: 'http://s:3128', HTTPS_PROXY: 'http://ignored:1', NO_PROXY: 'direct.local' });
  it.each([
    { name: 'proxyUrl for any scheme', config: { proxyUrl: 'http://x:1' }, target: 'https://a', proxy: 'http://x:1' },
    { name: 'proxyUrl, host in noProxy', config: { proxyUrl: 'http://x:1', noProxy: 'a' }, target: 'https://a', proxy: undefined },
    { name: 'environment, http target', config: { proxyFromEnvironment: true }, target: 'http://a', proxy: 'http://p:3128' },
    { name: 'environment, https target: lowercase first', config: { proxyFromEnvironment: true }, target: 'https://a', proxy: 'http://s:3128' },
    { name: 'environment, NO_PROXY', config: { proxyFromEnvironment: true }, target: 'https://direct.local', proxy: undefined },
    { name: 'none configured: the environment is not used', config: {}, target: 'https://a', proxy: undefined },
  ])('$name', ({ config, target, proxy }) => {
    expect(proxyFor(config, env, target)).toBe(proxy);
  });

  // As Prometheus' proxy_from_environment (Go's httpproxy.FromEnvironment) and curl read them:
  // HTTP_PROXY is for http:// URLs only; undici's EnvHttpProxyAgent would fall back to it.
  it('an https target without HTTPS_PROXY goes directly, HTTP_PROXY being for http:// targets, as in Go and curl', () => {
    const env = proxyEnvironment({ HTTP_PROXY: 'http://p:1' });
    expect(proxyFor({ proxyFromEnvironment: true }, env, 'https://a')).toBeUndefined();
    expect(proxyFor({ proxyFromEnvironment: true }, env, 'http://a')).toBe('http://p:1');
  });
});

describe('proxy problems', () => {
  it.each([
    { name: 'not a URL', config: { proxyUrl: 'proxy:3128' }, problem: 'x.proxyUrl: not an http:// or https:// URL of a proxy (http://[user:password@]host:port); the scheme is missing (http://)' },
    { name: 'another scheme', config: { proxyUrl: 'socks5://u:SECRET@p:1080' }, problem: 'x.proxyUrl: not an http:// or https:// URL of a proxy (http://[user:password@]host:port); the scheme socks5 is not supported' },
    { name: 'both', config: { proxyUrl: 'http://u:SECRET@p:1', proxyFromEnvironment: true }, problem: 'x.proxyFromEnvironment: set with proxyUrl; use one or the other' },
    { name: 'noProxy alone', config: { noProxy: 'a' }, problem: 'x.noProxy: set without proxyUrl; it lists the hosts proxyUrl is not used for' },
    { name: 'a bad CIDR range in noProxy', config: { proxyUrl: 'http://p:1', noProxy: 'a, 10.0.0.0/33' }, problem: 'x.noProxy: "10.0.0.0/33" is not a CIDR range (10.0.0.0/8, fd00::/8)' },
    { name: 'noProxy with the environment', config: { noProxy: 'a', proxyFromEnvironment: true }, problem: 'x.noProxy: set with proxyFromEnvironment, which takes NO_PROXY from the environment; remove noProxy or set proxyUrl' },
  ])('$name', ({ config, problem }) => {
    const problems = proxyProblems(config, 'x');
    expect(problems).toEqual([problem]);
    expect(problems.join()).not.toContain('SECRET');
  });

  it('none for a valid https proxy with noProxy', () => {
    expect(proxyProblems({ proxyUrl: 'https://u:p@proxy.corp:8443', noProxy: 'localhost' }, 'x')).toEqual([]);
  });
});

it('a proxy URL is displayed without its credentials, and they are secrets in all their forms', () => {
  expect(displayProxy('http://user:p%40ss@proxy:3128/')).toBe('http://proxy:3128');
  expect(proxySecrets('http://user:p%40ss@proxy:3128')).toEqual(expect.arrayContaining(['user:p@ss', 'p%40ss', 'p@ss']));
  expect(proxySecrets('http://proxy:3128')).toEqual([]);
  expect(proxySecrets('http://tok%2Ben-42@proxy:3128')).toEqual(expect.arrayContaining(['tok%2Ben-42', 'tok+en-42']));
});

describe('the environment\'s proxy', () => {
  it('a proxy without a scheme is http://, as curl and Go take it', () => {
    expect(proxyEnvironment({ HTTPS_PROXY: 'proxy.corp:3128', http_proxy: 'u:p@10.0.0.1:8080' })).toEqual({ httpProxy: 'http://u:p@10.0.0.1:8080', httpsProxy: 'http://proxy.corp:3128', noProxy: '' });
  });

  it.each([
    { name: 'HTTPS_PROXY for an https url', env: { HTTPS_PROXY: 'socks5://u:SECRET@p:1080' }, url: 'https://a', problem: "x.proxyFromEnvironment: the environment's HTTPS_PROXY (or https_proxy) is not an http:// or https:// URL of a proxy (http://[user:password@]host:port); the scheme socks5 is not supported" },
    { name: 'HTTP_PROXY for an http url', env: { HTTP_PROXY: 'http://[bad', HTTPS_PROXY: 'http://ok:1' }, url: 'http://a', problem: "x.proxyFromEnvironment: the environment's HTTP_PROXY (or http_proxy) is not an http:// or https:// URL of a proxy (http://[user:password@]host:port)" },
    { name: 'not HTTP_PROXY for an https url, which does not use it', env: { HTTP_PROXY: 'ftp://SECRET@p' }, url: 'https://a', problem: undefined },
    { name: 'a usable one', env: { HTTPS_PROXY: 'proxy:3128' }, url: 'https://a', problem: undefined },
    { name: 'none', env: {}, url: 'https://a', problem: undefined },
  ])('$name', ({ env, url, problem }) => {
    expect(proxyEnvironmentProblem({ proxyFromEnvironment: true }, url, proxyEnvironment(env), 'x')).toBe(problem);
    expect(proxyEnvironmentProblem({ proxyFromEnvironment: false }, url, proxyEnvironment(env), 'x')).toBeUndefined();
  });
});
