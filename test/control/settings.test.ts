// The one settings loader: every variable a Sluice process reads is declared, parsed and
// checked once in platform/settings.ts; the README's configuration table lists exactly
// those variables; and no other module reads one of them from the environment itself.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, SETTINGS_VARIABLES, loadSettings } from '../../platform/settings.ts';

const ROOT = join(import.meta.dirname, '../..');

/** The variable names in the first column of the README's configuration table. */
function readmeVariables(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## Configuration$/m)[1]?.split(/^## /m)[0] ?? '';
  const names: string[] = [];
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const firstCell = line.split('|')[1] ?? '';
    for (const m of firstCell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) names.push(m[1]!);
  }
  return names;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'generated' || name === 'dist') continue;
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mjs|js)$/.test(name)) out.push(path);
  }
  return out;
}

describe('the configuration table', () => {
  it('lists exactly the variables the settings loader reads', () => {
    const documented = readmeVariables();
    expect(new Set(documented).size, 'a variable is listed twice').toBe(documented.length);
    const missing = SETTINGS_VARIABLES.filter((v) => !documented.includes(v));
    const unknown = documented.filter((v) => !SETTINGS_VARIABLES.includes(v));
    expect({ missingFromReadme: missing, notReadByTheLoader: unknown }).toEqual({ missingFromReadme: [], notReadByTheLoader: [] });
  });
});

describe('one reader of the environment', () => {
  it('no module but platform/settings.ts reads a setting from the environment', () => {
    // runtime/ is left out on purpose: a model runtime is a child process with its own launch
    // contract (PORT, SLUICE_MODEL_*, LOG_LEVEL), set by the orchestrator (runtime/config.ts)
    const dirs = ['control', 'gateway', 'xds', 'platform', 'prisma', 'scripts', 'proto'];
    const readers = new RegExp(`\\benv(?:\\.|\\[['"])(${SETTINGS_VARIABLES.join('|')})\\b`);
    const offenders: string[] = [];
    for (const file of dirs.flatMap((d) => sourceFiles(join(ROOT, d)))) {
      const rel = relative(ROOT, file);
      if (rel === 'platform/settings.ts' || rel.endsWith('.config.ts')) continue;
      readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
        if (readers.test(line) && !line.trim().startsWith('//') && !line.trim().startsWith('*')) offenders.push(`${rel}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });
});

describe('loadSettings', () => {
  it('has the documented defaults; an empty variable counts as unset', () => {
    const s = loadSettings({ SLUICE_DATA_DIR: '/tmp/sluice-x', DATABASE_URL: '', SLUICE_PORT: '' });
    expect(s.databaseUrl).toBe('file:/tmp/sluice-x/sluice.db');
    expect(s.objectStoreUrl).toBe('file:///tmp/sluice-x/objects');
    expect(s.ports).toEqual({ control: 4000, edge: 8080, xds: 18000, gateway: 18081 });
    expect(s.auth).toEqual({ adminToken: null, secretKey: null, jwt: null });
    expect(s.edgeXdsAddress).toBe('127.0.0.1:18000');
    expect(s.dataPlane).toEqual({
      xdsHost: '127.0.0.1', listenerPort: 10000, gatewayHost: '127.0.0.1', stickyHeader: null, envoyRateLimit: 'local',
      envoy: { nodeId: 'sluice-edge-0', nodeCluster: 'sluice-edge', adminPort: 9901 },
    });
    expect(s.logLevel).toBe('info');
  });

  it('refuses bad values with one error naming every bad variable', () => {
    const bad = () => loadSettings({ SLUICE_PORT: 'abc', SLUICE_ORCHESTRATOR: 'nomad', SLUICE_STICKY_HEADER: 'x y', LOG_LEVEL: 'loud' });
    expect(bad).toThrow(ConfigError);
    for (const name of ['SLUICE_PORT', 'SLUICE_ORCHESTRATOR', 'SLUICE_STICKY_HEADER', 'LOG_LEVEL']) expect(bad).toThrow(name);
  });

  it('parses SLUICE_JWT_* once, for /predict and the GraphQL API alike', () => {
    expect(
      loadSettings({
        SLUICE_JWT_JWKS_URL: 'https://idp.example/jwks',
        SLUICE_JWT_ISSUER: 'https://idp.example, https://old.example',
        SLUICE_JWT_AUDIENCE: 'sluice',
        SLUICE_JWT_ALGORITHMS: 'ES256,RS256',
        SLUICE_JWT_GROUPS_CLAIM: 'groups',
        SLUICE_JWT_DEFAULT_ROLE: 'developer',
      }).auth.jwt,
    ).toEqual({
      jwksUrl: 'https://idp.example/jwks',
      issuer: ['https://idp.example', 'https://old.example'],
      audience: ['sluice'],
      algorithms: ['ES256', 'RS256'],
      groupsClaim: 'groups',
      defaultRole: 'DEVELOPER',
    });
    // half a configuration is refused, not silently ignored (the edge used to ignore it)
    expect(() => loadSettings({ SLUICE_JWT_JWKS_URL: 'https://idp.example/jwks', SLUICE_JWT_ISSUER: 'x' })).toThrow(/SLUICE_JWT_AUDIENCE/);
    expect(() => loadSettings({ SLUICE_JWT_JWKS_URL: 'ftp://idp.example/jwks' })).toThrow(/SLUICE_JWT_JWKS_URL/);
  });

  it('lower-cases the sticky header and derives the edge\'s xDS address', () => {
    const s = loadSettings({ SLUICE_STICKY_HEADER: 'X-User', SLUICE_XDS_HOST: 'cp.internal', SLUICE_XDS_PORT: '19000' });
    expect(s.dataPlane.stickyHeader).toBe('x-user');
    expect(s.edgeXdsAddress).toBe('cp.internal:19000');
    expect(loadSettings({ SLUICE_XDS_ADDRESS: 'a:1' }).edgeXdsAddress).toBe('a:1');
  });

  it('allows the dashboard\'s own origins on the edge by default, exact origins when listed, never a wildcard', () => {
    expect(loadSettings({ SLUICE_PORT: '4100' }).edgeCorsOrigins).toEqual(['http://127.0.0.1:4100', 'http://localhost:4100']);
    expect(loadSettings({ SLUICE_HOST: 'sluice.lan' }).edgeCorsOrigins).toEqual(['http://127.0.0.1:4000', 'http://localhost:4000', 'http://sluice.lan:4000']);
    expect(loadSettings({ SLUICE_HOST: '0.0.0.0' }).edgeCorsOrigins).toHaveLength(2);
    expect(loadSettings({ SLUICE_EDGE_CORS_ORIGINS: 'none' }).edgeCorsOrigins).toEqual([]);
    expect(loadSettings({ SLUICE_EDGE_CORS_ORIGINS: 'https://Ops.Example.com, http://10.0.0.5:4000/' }).edgeCorsOrigins).toEqual(['https://ops.example.com', 'http://10.0.0.5:4000']);
    expect(() => loadSettings({ SLUICE_EDGE_CORS_ORIGINS: '*' })).toThrow(/wildcard/);
    expect(() => loadSettings({ SLUICE_EDGE_CORS_ORIGINS: 'https://*.example.com' })).toThrow(/wildcard/);
    expect(() => loadSettings({ SLUICE_EDGE_CORS_ORIGINS: 'https://ops.example.com/dashboard' })).toThrow(/not an origin/);
    expect(() => loadSettings({ SLUICE_EDGE_CORS_ORIGINS: 'ops.example.com' })).toThrow(/not an origin/);
  });
});
