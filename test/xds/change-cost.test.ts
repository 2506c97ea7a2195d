// A change costs what it changed: with 1,000 groups, a weight change in one group translates
// that group's resources only, builds the next snapshot from those (the untouched types are
// the same objects), checks it by its deltas, and serves every stream from one encoding of
// the changed resource. Counted (resources translated, applied, encoded; checks by kind),
// not timed: each count would grow with the number of groups if any step were O(all).
import { describe, expect, it } from 'vitest';
import { TYPE_URL, decode, type XdsTypeUrl } from '../../proto/envoy.ts';
import { SnapshotCache, changeStats } from '../../xds/cache.ts';
import { checkStats } from '../../xds/consistency.ts';
import type { DataPlaneModel } from '../../xds/model.ts';
import { createSnapshotBuilder } from '../../xds/snapshot-builder.ts';
import { translationStats } from '../../xds/translate.ts';
import { HoldDeadlines, type AdsCall, type StreamOptions } from '../../xds/ads/core.ts';
import { ResponseEncoder } from '../../xds/ads/encode.ts';
import { SotwStream } from '../../xds/ads/sotw.ts';
import { DeltaStream } from '../../xds/ads/delta.ts';
import { ProxyStatusRegistry } from '../../xds/status.ts';
import { SETTINGS, version } from './fixtures/model.ts';

const GROUPS = 1000;
const groupName = (i: number) => `svc-${String(i).padStart(4, '0')}`;
const CHANGED = groupName(500);

function model(changedWeight: number): DataPlaneModel {
  return {
    groups: Array.from({ length: GROUPS }, (_, i) => {
      const w = groupName(i) === CHANGED ? changedWeight : 80;
      return { groupId: `g${i}`, name: groupName(i), versions: [version('v1', w, 7001), version('v2', 100 - w, 7002)] };
    }),
  };
}

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const silent = { info() {}, warn() {}, debug() {} };

/** In-process streams (no sockets): what each writes is decoded, and every response ACKed. */
function harness(cache: SnapshotCache) {
  const encoder = new ResponseEncoder('test');
  const options: StreamOptions = {
    cache,
    registry: new ProxyStatusRegistry(),
    logger: silent,
    now: () => new Date(),
    controlPlaneId: 'test',
    holdTimeoutMs: 10_000,
    encoder,
    deadlines: new HoldDeadlines(10_000),
  };
  let n = 0;
  const streams: { received: Obj[]; close: () => void }[] = [];
  function call(received: Obj[], kind: 'sotw' | 'delta', ack: (r: Obj) => void): AdsCall {
    return {
      write(bytes) {
        const r = decode<Obj>(kind === 'sotw' ? 'envoy.service.discovery.v3.DiscoveryResponse' : 'envoy.service.discovery.v3.DeltaDiscoveryResponse', bytes);
        received.push(r);
        queueMicrotask(() => ack(r));
        return true;
      },
      emit: () => true,
      getPeer: () => 'test',
    };
  }
  return {
    encoder,
    streams,
    sotw(names: { eds: string[]; rds: string[] }) {
      const received: Obj[] = [];
      const ctx = { streamId: `s${++n}`, options };
      const sub = (url: string) => (url === TYPE_URL.endpoint ? names.eds : url === TYPE_URL.route ? names.rds : []);
      const s: SotwStream = new SotwStream(ctx, call(received, 'sotw', (r) => s.onRequest({ type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce, resource_names: sub(r.type_url) } as never)));
      const node = { id: `proxy-${n}` };
      for (const url of [TYPE_URL.cluster, TYPE_URL.listener, TYPE_URL.endpoint, TYPE_URL.route]) s.onRequest({ node, type_url: url, resource_names: sub(url) } as never);
      streams.push({ received, close: () => s.close() });
      return received;
    },
    delta(names: { eds: string[]; rds: string[] }) {
      const received: Obj[] = [];
      const ctx = { streamId: `d${++n}`, options };
      const s: DeltaStream = new DeltaStream(ctx, call(received, 'delta', (r) => s.onRequest({ type_url: r.type_url, response_nonce: r.nonce } as never)));
      const node = { id: `proxy-${n}` };
      const sub: Record<string, string[]> = { [TYPE_URL.cluster]: [], [TYPE_URL.listener]: [], [TYPE_URL.endpoint]: names.eds, [TYPE_URL.route]: names.rds };
      for (const url of [TYPE_URL.cluster, TYPE_URL.listener, TYPE_URL.endpoint, TYPE_URL.route]) s.onRequest({ node, type_url: url, resource_names_subscribe: sub[url] } as never);
      streams.push({ received, close: () => s.close() });
      return received;
    },
  };
}

const settle = () => new Promise((r) => setTimeout(r, 20));
const resourceNames = (r: Obj): string[] =>
  (r.resources ?? []).map((x: Obj) => {
    const any = x.resource ?? x;
    const d = decode<Obj>(any.type_url.split('/').pop(), any.value);
    return (d.name ?? d.cluster_name) as string;
  });

describe('a change among 1,000 groups costs what it changed', () => {
  it('translates, applies and checks the changed group only; the untouched types are the same objects', () => {
    const builder = createSnapshotBuilder();
    const cache = new SnapshotCache();
    const first = builder.build(model(80), SETTINGS);
    cache.setSnapshot(first);
    expect(builder.last.full).toBe(true);
    expect(builder.last.translated).toBe(GROUPS * 7 + 1);

    const applied0 = changeStats.applied;
    const checks0 = { ...checkStats };
    const groups0 = translationStats.groupsTranslated;
    const next = builder.build(model(30), SETTINGS);
    // the other 999 groups were compared with their last content, not checked or translated
    expect(translationStats.groupsTranslated - groups0).toBe(1);
    cache.setSnapshot(next);
    // one group: its API listener, API and edge route configurations, 2 clusters, 2 endpoints
    expect(builder.last.full).toBe(false);
    expect(builder.last.translated).toBe(7);
    // of those, the weights changed the two route configurations alone
    expect(changeStats.applied - applied0).toBe(2);
    expect(next.types[TYPE_URL.route].delta?.changed.slice().sort()).toEqual([`sluice-edge/${CHANGED}`, `${CHANGED}.sluice`]);
    for (const url of [TYPE_URL.listener, TYPE_URL.cluster, TYPE_URL.endpoint] as XdsTypeUrl[]) expect(next.types[url]).toBe(first.types[url]);
    expect(checkStats.full - checks0.full).toBe(0);
    expect(checkStats.byDelta - checks0.byDelta).toBe(1);
  });

  it('an incremental snapshot equals the one built from scratch (same versions, same resources)', () => {
    const builder = createSnapshotBuilder();
    builder.build(model(80), SETTINGS);
    const inc = builder.build(model(30), SETTINGS);
    const full = createSnapshotBuilder().build(model(30), SETTINGS);
    for (const url of Object.keys(full.types) as XdsTypeUrl[]) {
      expect(inc.types[url].version).toBe(full.types[url].version);
      expect([...inc.types[url].resources.keys()]).toEqual([...full.types[url].resources.keys()]);
    }
  });

  it('every stream (SotW and delta) gets only the changed route configuration, encoded once for all', async () => {
    const builder = createSnapshotBuilder();
    const cache = new SnapshotCache();
    const first = builder.build(model(80), SETTINGS);
    cache.setSnapshot(first);
    const names = {
      eds: [...first.types[TYPE_URL.cluster].resources.keys()],
      rds: [...first.types[TYPE_URL.route].resources.keys()].filter((n) => n.startsWith('sluice-edge/')),
    };
    const h = harness(cache);
    const all = [...Array.from({ length: 5 }, () => h.sotw(names)), ...Array.from({ length: 5 }, () => h.delta(names))];
    await settle();
    expect(all.every((r) => r.some((x) => x.type_url === TYPE_URL.route))).toBe(true);
    const before = all.map((r) => r.length);
    const enc0 = { ...h.encoder.stats };

    cache.setSnapshot(builder.build(model(30), SETTINGS));
    await settle();

    for (const [i, r] of all.entries()) {
      const after = r.slice(before[i]);
      expect(after.map((x) => x.type_url)).toEqual([TYPE_URL.route]);
      expect(resourceNames(after[0]!)).toEqual([`sluice-edge/${CHANGED}`]);
    }
    // one SotW response body shared by the 5 SotW streams, one delta entry by the 5 delta ones
    expect(h.encoder.stats.encoded - enc0.encoded).toBe(2);
    expect(h.encoder.stats.reused - enc0.reused).toBe(8);
    for (const s of h.streams) s.close();
  });
});

describe('what a pass compares instead of re-translating', () => {
  it('sees a group edited in place (the same objects, new content) and only that group', () => {
    const builder = createSnapshotBuilder();
    const m = model(80);
    builder.build(m, SETTINGS);
    const g = m.groups[7]!;
    g.versions[0]!.weight = 10;
    g.versions[1]!.weight = 90;
    const groups0 = translationStats.groupsTranslated;
    const next = builder.build(m, SETTINGS);
    expect(translationStats.groupsTranslated - groups0).toBe(1);
    expect(next.types[TYPE_URL.route].delta?.changed.slice().sort()).toEqual([`sluice-edge/${g.name}`, `${g.name}.sluice`]);
    // an unchanged rebuild (fresh objects, same data; an undefined member counts as absent)
    const same = model(80);
    same.groups[7]!.versions[0]!.weight = 10;
    same.groups[7]!.versions[1]!.weight = 90;
    same.groups[3]!.mirror = undefined;
    builder.build(same, SETTINGS);
    expect(builder.last.translated).toBe(0);
  });

  it('keeps the edge listener buffer at the largest body limit as groups change and leave', () => {
    const builder = createSnapshotBuilder();
    const m = model(80);
    const buffer = (s: ReturnType<typeof builder.build>) =>
      decode<Obj>('envoy.config.listener.v3.Listener', s.types[TYPE_URL.listener].resources.get('sluice-edge')!.resource.value).per_connection_buffer_limit_bytes.value;
    expect(buffer(builder.build(m, SETTINGS))).toBe(10 * 1024 * 1024);
    m.groups[1]!.versions[0]!.inferenceTable = { enabled: true, sampleRate: 1, maxBodyBytes: 32 * 1024 * 1024 };
    m.groups[2]!.versions[1]!.inferenceTable = { enabled: true, sampleRate: 1, maxBodyBytes: 16 * 1024 * 1024 };
    expect(buffer(builder.build(m, SETTINGS))).toBe(32 * 1024 * 1024);
    m.groups.splice(1, 1);
    expect(buffer(builder.build(m, SETTINGS))).toBe(16 * 1024 * 1024);
    m.groups[1]!.versions[1]!.inferenceTable.maxBodyBytes = 1024;
    expect(buffer(builder.build(m, SETTINGS))).toBe(10 * 1024 * 1024);
  });

  it('refuses a model naming a group twice, and keeps its state: the next good model builds from the last', () => {
    const builder = createSnapshotBuilder();
    builder.build(model(80), SETTINGS);
    const dup = model(30);
    dup.groups.push({ ...dup.groups[0]! });
    expect(() => builder.build(dup, SETTINGS)).toThrow(/appears twice/);
    builder.build(model(30), SETTINGS);
    expect(builder.last.full).toBe(false);
    expect(builder.last.translated).toBe(7);
  });
});

describe('local rate limiting as proxies come and go', () => {
  it('translates again only the groups with a QPS limit, and gives what a full translation gives', () => {
    const local = (proxies: number) => ({ ...SETTINGS, rateLimit: { mode: 'local' as const, proxies } });
    const m = model(80);
    const limited = new Set([3, 400, 999]);
    for (const i of limited) m.groups[i]!.versions[1]!.qpsLimit = 90;
    const builder = createSnapshotBuilder();
    builder.build(m, local(2));
    const next = builder.build(m, local(3));
    expect(builder.last.full).toBe(false);
    expect(builder.last.translated).toBe(limited.size * 7);
    const full = createSnapshotBuilder().build(m, local(3));
    for (const url of [TYPE_URL.listener, TYPE_URL.route, TYPE_URL.cluster, TYPE_URL.endpoint] as XdsTypeUrl[]) {
      expect(next.types[url].version).toBe(full.types[url].version);
    }
    // each proxy's share: ceil(90 / 3)
    const edge = decode<Obj>('envoy.config.route.v3.RouteConfiguration', next.types[TYPE_URL.route].resources.get(`sluice-edge/${groupName(400)}`)!.resource.value);
    const perFilter = edge.virtual_hosts[0].routes.find((r: Obj) => r.name === `${groupName(400)}/pin/v2`).typed_per_filter_config;
    const bucket = decode<Obj>('envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit', perFilter['envoy.filters.http.local_ratelimit'].value);
    expect(bucket.token_bucket.max_tokens).toBe(30);
    // the mode itself is a settings change: everything again
    builder.build(m, SETTINGS);
    expect(builder.last.full).toBe(true);
  });
});
