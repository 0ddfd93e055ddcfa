import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('serves the defaults of API.md', () => {
    const config = loadConfig({});
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 7070 });
    expect(config.dataDir).toBe('/var/lib/nsgate');
    expect(config.tokensFile).toBe('/var/lib/nsgate/tokens.json');
    expect(config.adminTokenFile).toBe('/var/lib/nsgate/admin.token');
    expect(config.managedCgroups).toEqual(['/nsgate']);
    expect(config.dockerHost).toBe('unix:///var/run/docker.sock');
  });

  it('reads every setting of the table', () => {
    const config = loadConfig({
      NSGATE_LISTEN: '[::1]:8080',
      NSGATE_DATA_DIR: '/tmp/x',
      NSGATE_MANAGED_CGROUPS: '/nsgate, /batch/',
      DOCKER_HOST: 'unix:///run/nsgate-test/docker.sock',
    });
    expect(config.listen).toEqual({ host: '::1', port: 8080 });
    expect(config.tokensFile).toBe('/tmp/x/tokens.json');
    expect(config.managedCgroups).toEqual(['/nsgate', '/batch']);
    expect(config.dockerHost).toBe('unix:///run/nsgate-test/docker.sock');
    expect(loadConfig({ NSGATE_TOKENS_FILE: '/etc/nsgate/t.json' }).tokensFile).toBe('/etc/nsgate/t.json');
  });

  it.each([
    ['NSGATE_LISTEN', 'nonsense'],
    ['NSGATE_LISTEN', '127.0.0.1:99999'],
    ['NSGATE_LISTEN', '127.0.0.1:'],
    ['NSGATE_LISTEN', '[nothex]:80'],
    ['NSGATE_DATA_DIR', 'relative/dir'],
    ['NSGATE_MANAGED_CGROUPS', 'nsgate'],
    ['NSGATE_MANAGED_CGROUPS', '/a/../b'],
    ['NSGATE_MANAGED_CGROUPS', '/'],
    ['NSGATE_MANAGED_CGROUPS', ' , '],
    ['DOCKER_HOST', 'ssh://me@host'],
    ['NSGATE_AUDIT_MAX_BYTES', '-1'],
    ['NSGATE_LOG_LEVEL', 'loud'],
  ])('refuses %s=%s with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^${name}: `));
  });
});
