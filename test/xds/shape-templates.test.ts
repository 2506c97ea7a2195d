// Group templates (xds/translate.ts, proto/splice.ts): groups alike but for their names are
// encoded once and filled in. Whatever the model, the resources are exactly those the
// ordinary translation gives (each group built and encoded on its own): same names, same
// bytes, same hashes, same references — for groups of every feature (auth, JWT-only,
// QPS limits in both modes, capture, mirror, concurrency caps, scale to zero, sticky A/B,
// weights 0, fractional or past 2^16, versions without a healthy replica), names of every
// length a DNS label may have, settings with non-ASCII text, and through incremental
// passes. And every pushed resource passes Envoy's validation rules.
import { describe, expect, it } from 'vitest';
import { ENVOY_TYPES, encode, lookupType, packAny } from '../../proto/envoy.ts';
import { pgvViolations } from '../../proto/pgv.ts';
import { Placeholders, cutTemplate, instantiate, nameBytes } from '../../proto/splice.ts';
import type { DataPlaneGroup, DataPlaneModel, DataPlaneSettings, DataPlaneVersion } from '../../xds/model.ts';
import { createSnapshotBuilder } from '../../xds/snapshot-builder.ts';
import { createTranslator, templateStats, type EnvoyResources, type XdsResource } from '../../xds/translate.ts';
import { SETTINGS, version } from './fixtures/model.ts';

/** A small seeded generator (mulberry32): the same models every run. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}
type Random = ReturnType<typeof random>;

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** A DNS label of `len` characters (1..63), hyphens inside. */
function label(r: Random, len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) s += i > 0 && i < len - 1 && r.next() < 0.2 ? '-' : r.pick([...ALNUM]);
  return s;
}

/** A few shapes, so that most groups share one with others (templates are made and used). */
function versionsOf(r: Random, shape: number): Omit<DataPlaneVersion, 'name'>[] {
  const s = random(shape);
  const count = 1 + s.int(3);
  const weights = s.pick([[100, 0, 0], [0, 0, 0], [50.5, 49.5, 0], [70000, 1, 3], [1, 2, 97], [0, 100, 0]]);
  return Array.from({ length: count }, (_, i) => {
    const healthy = s.int(4) !== 0;
    const v = version('x', weights[i]!, 7000 + i, {
      authEnabled: s.int(2) === 0,
      authJwtOnly: s.int(3) === 0,
      qpsLimit: s.pick([null, 5, 100, 0.5]),
      inferenceTable: { enabled: s.int(2) === 0, sampleRate: 1, maxBodyBytes: s.pick([1024, 20 * 1024 * 1024]) },
      scaleToZero: s.int(4) === 0,
      maxConcurrency: s.pick([null, undefined, 1, 300]),
      queueDepth: s.pick([null, 8]),
    });
    // now and then one thing differs from the shape's others alike (a field a shape missed shows)
    if (r.int(3) === 0) {
      const flip = r.int(6);
      if (flip === 0) v.authEnabled = !v.authEnabled;
      else if (flip === 1) v.authJwtOnly = !v.authJwtOnly;
      else if (flip === 2) v.qpsLimit = v.qpsLimit === null ? 7 : null;
      else if (flip === 3) v.inferenceTable = { ...v.inferenceTable, enabled: !v.inferenceTable.enabled };
      else if (flip === 4) v.weight += 1;
      else v.maxConcurrency = v.maxConcurrency ? null : 2;
    }
    // endpoints differ group by group (they are not part of a shape), health as the shape says
    const n = r.int(4);
    v.endpoints = Array.from({ length: healthy ? Math.max(1, n) : n }, (_, j) => ({
      instance: `i-${r.int(1000)}-${j}`,
      host: `10.0.${r.int(255)}.${j}`,
      port: 1 + r.int(65535),
      healthy: healthy ? j === 0 || r.int(2) === 0 : false,
    }));
    return v;
  });
}

function model(seed: number, groups: number): DataPlaneModel {
  const r = random(seed);
  const used = new Set<string>();
  const out: DataPlaneGroup[] = [];
  while (out.length < groups) {
    // names of every length a label may have: lengths around 127 bytes come in the strings built from them
    const name = label(r, r.pick([1, 2, 5, 12, 30, 60, 62, 63]));
    if (used.has(name)) continue;
    used.add(name);
    const shape = r.int(7);
    const versions = versionsOf(r, shape).map((v, i) => ({ ...v, name: r.pick([`v${i + 1}`, label(r, 1 + r.int(63)), `${'a'.repeat(i + 1)}`]) }));
    if (new Set(versions.map((v) => v.name)).size !== versions.length) continue;
    const mirror = random(shape).int(3) === 0 && versions.length > 1 ? { version: versions[versions.length - 1]!.name, percent: 1 + (shape % 100) } : null;
    out.push({ groupId: `id-${out.length}`, name, versions, mirror });
  }
  return { groups: out };
}

const JWT: DataPlaneSettings['jwt'] = {
  jwksUrl: 'https://idp.example.com/realms/sluice/certs',
  issuers: ['https://idp.example.com/realms/słuice', 'https://old-idp.example.com'],
  audiences: ['sluice', 'ünïcode'],
  groupsClaim: 'sluice_groups',
};
const SETTINGS_VARIANTS: [string, DataPlaneSettings][] = [
  ['defaults', SETTINGS],
  ['local rate limit, sticky, token with non-ASCII text', { ...SETTINGS, rateLimit: { mode: 'local', proxies: 3 }, stickyHeader: 'x-user', gatewayToken: 'tøken—✓' }],
  ['JWT issuer, global rate limit', { ...SETTINGS, jwt: JWT, rateLimit: { mode: 'global', proxies: 1 } }],
];

/** Everything a resource carries, its bytes as hex (a failure names what differs). */
const flat = (r: XdsResource) => ({ ...r, resource: { type_url: r.resource.type_url, value: Buffer.from(r.resource.value).toString('hex') } });
const all = (res: EnvoyResources) => [...res.listeners, ...res.routes, ...res.clusters, ...res.endpoints].map(flat);

describe('group templates', () => {
  for (const [what, settings] of SETTINGS_VARIANTS) {
    it(`give exactly the ordinary translation's resources, varied models: ${what}`, () => {
      const before = { ...templateStats };
      for (const seed of [1, 2, 3]) {
        const m = model(seed, 120);
        const reference = createTranslator({ shapeTemplates: false })(m, settings);
        // templates for any shape met twice (the default waits for 16 groups of a shape)
        const templated = createTranslator({ templateAfter: 2 })(m, settings);
        expect(all(templated)).toEqual(all(reference));
        const pushed = [...templated.listeners, ...templated.routes, ...templated.clusters, ...templated.endpoints];
        const violations = pushed.flatMap((r) => pgvViolations(r.resource.type_url.replace('type.googleapis.com/', ''), r.resource.value).map((v) => `${r.name}: ${v}`));
        expect(violations).toEqual([]);
      }
      // the templates were made and used, and none was refused
      expect(templateStats.made).toBeGreaterThan(before.made);
      expect(templateStats.used).toBeGreaterThan(before.used + 50);
      expect(templateStats.refused).toBe(before.refused);
    });
  }

  it('are made by default only for a shape enough groups share, and give the same resources', () => {
    const before = { ...templateStats };
    const shared = (name: string) => ({ groupId: name, name, versions: [version('v1', 90, 7001, { authEnabled: true }), version('v2', 10, 7002)] });
    const m: DataPlaneModel = {
      groups: [
        ...Array.from({ length: 15 }, (_, i) => shared(`few-${i}`)).map((g) => ({ ...g, versions: g.versions.map((v) => ({ ...v, qpsLimit: 5 })) })),
        ...Array.from({ length: 16 }, (_, i) => shared(`many-${i}`)),
      ],
    };
    expect(all(createTranslator()(m, SETTINGS))).toEqual(all(createTranslator({ shapeTemplates: false })(m, SETTINGS)));
    // the shape of 16 got one (used for the 14 after the two it was made from), the shape of 15 none
    expect(templateStats.made - before.made).toBe(1);
    expect(templateStats.used - before.used).toBe(14);
  });

  it('give the ordinary resources through incremental passes (weights, features and groups changing) and a new proxy count', () => {
    const settings: DataPlaneSettings = { ...SETTINGS, rateLimit: { mode: 'local', proxies: 2 } };
    const builder = createSnapshotBuilder({ templateAfter: 2 });
    const m = model(7, 40);
    const r = random(99);
    for (let pass = 0; pass < 8; pass++) {
      const s = pass >= 4 ? { ...settings, rateLimit: { mode: 'local' as const, proxies: 5 } } : settings;
      const snap = builder.build(m, s);
      const reference = createTranslator({ shapeTemplates: false })(m, s);
      const got = Object.values(snap.types).flatMap((t) => [...t.resources.values()]).map(flat);
      const byName = (a: { typeUrl: string; name: string }, b: { typeUrl: string; name: string }) => (a.typeUrl + a.name < b.typeUrl + b.name ? -1 : 1);
      expect(got.sort(byName)).toEqual(all(reference).sort(byName));
      // the next model: weights moved, a switch flipped, a group renamed, one gone
      for (let i = 0; i < 5; i++) {
        const g = m.groups[r.int(m.groups.length)]!;
        const v = g.versions[r.int(g.versions.length)];
        if (v) {
          v.weight = r.pick([0, 10, 90, 33.3]);
          v.authEnabled = !v.authEnabled;
        }
      }
      m.groups[r.int(m.groups.length)]!.name = `renamed-${pass}`;
      m.groups.splice(r.int(m.groups.length), 1);
    }
  });
});

describe('message templates (proto/splice.ts)', () => {
  const p = new Placeholders();
  const lookup = (url: string) => lookupType(url);
  const routeConfig = (g: string, v: string) => ({
    name: `sluice-edge/${g}`,
    virtual_hosts: [
      {
        name: g,
        domains: ['*'],
        routes: [
          {
            match: { path: `/services/${g}/predict` },
            route: { cluster: `sluice/${g}/${v}`, timeout: { seconds: 60 } },
            typed_per_filter_config: {
              'envoy.filters.http.ext_authz': packAny(ENVOY_TYPES.extAuthzPerRoute, { check_settings: { context_extensions: { group: g, version: v } } }),
            },
            name: `${g}/pin/${v}`,
          },
        ],
      },
    ],
  });

  it('fill in names of any length, the lengths around them (nested Any payloads too) written anew', () => {
    const type = lookupType(ENVOY_TYPES.routeConfiguration);
    const t = cutTemplate(type, encode(ENVOY_TYPES.routeConfiguration, routeConfig(p.name(0), p.name(1))), p, lookup);
    expect(t).not.toBeNull();
    for (const [g, v] of [['a', 'b'], ['x'.repeat(63), 'y'.repeat(63)], ['g'.repeat(200), 'é✓'.repeat(40)]] as const) {
      const want = Buffer.from(encode(ENVOY_TYPES.routeConfiguration, routeConfig(g, v)));
      expect(Buffer.from(instantiate(t!, nameBytes([g, v]))).equals(want), `${g.length} ${v.length}`).toBe(true);
    }
  });

  it('refuse a message holding a placeholder outside a string field', () => {
    const lua = { default_source_code: { inline_bytes: Buffer.from(`-- ${p.name(0)}`) } };
    expect(cutTemplate(lookupType(ENVOY_TYPES.lua), encode(ENVOY_TYPES.lua, lua), p, lookup)).toBeNull();
    // the same text in a string field is a hole
    const inline = { default_source_code: { inline_string: `-- ${p.name(0)}` } };
    const t = cutTemplate(lookupType(ENVOY_TYPES.lua), encode(ENVOY_TYPES.lua, inline), p, lookup);
    expect(Buffer.from(instantiate(t!, nameBytes(['wine']))).equals(Buffer.from(encode(ENVOY_TYPES.lua, { default_source_code: { inline_string: '-- wine' } })))).toBe(true);
  });
});
