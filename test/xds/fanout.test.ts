// The fan-out's shared parts: responses encoded once (ads/encode.ts) decode to exactly what
// encoding each response whole would give, and are reused across streams; every stream's
// hold deadline runs on one timer (HoldDeadlines in ads/core.ts).
import { describe, expect, it } from 'vitest';
import { TYPE_URL, decode, encode } from '../../proto/envoy.ts';
import { makeSnapshot } from '../../xds/cache.ts';
import { HoldDeadlines } from '../../xds/ads/core.ts';
import { ResponseEncoder } from '../../xds/ads/encode.ts';
import { translate } from '../../xds/translate.ts';
import { SETTINGS, version } from './fixtures/model.ts';

const SOTW = 'envoy.service.discovery.v3.DiscoveryResponse';
const DELTA = 'envoy.service.discovery.v3.DeltaDiscoveryResponse';

const snapshot = () =>
  makeSnapshot(
    translate(
      { groups: [{ groupId: 'g', name: 'wine', versions: [version('v1', 80, 7001), version('v2', 20, 7002)] }] },
      SETTINGS,
    ),
  );

describe('ResponseEncoder', () => {
  it('a SotW response from shared bytes decodes as the whole response encoded at once, and is encoded once per subscription', () => {
    const snap = snapshot();
    const type = snap.types[TYPE_URL.cluster];
    const enc = new ResponseEncoder('sluice');
    const parts = { url: TYPE_URL.cluster, type, subscriptionKey: '*|', selects: () => true };
    const a = enc.sotw(parts, 0);
    const b = enc.sotw(parts, 0);
    expect(enc.stats).toEqual({ encoded: 1, reused: 1, resourcesEncoded: type.resources.size, resourcesReused: 0 });
    const whole = encode(SOTW, {
      version_info: type.version,
      resources: [...type.resources.values()].map((r) => r.resource),
      type_url: TYPE_URL.cluster,
      nonce: String(b.nonce),
      control_plane: { identifier: 'sluice' },
    });
    expect(decode(SOTW, b.bytes)).toEqual(decode(SOTW, whole));
    expect(a.count).toBe(type.resources.size);
    // another subscription is its own encoding, with only what it selects
    const one = [...type.resources.keys()][0]!;
    const named = enc.sotw({ ...parts, subscriptionKey: one, selects: (r) => r.name === one }, 0);
    expect(named.count).toBe(1);
    expect(enc.stats.encoded).toBe(2);
    // ... made of the resource's entry encoded for the first: no resource is encoded twice
    expect(enc.stats).toMatchObject({ resourcesEncoded: type.resources.size, resourcesReused: 1 });
    expect(decode<{ resources: unknown[] }>(SOTW, named.bytes).resources).toEqual(
      decode<{ resources: unknown[] }>(SOTW, encode(SOTW, { resources: [type.resources.get(one)!.resource] })).resources,
    );
  });

  it('streams that get the same response at once share its nonced bytes; a nonce is never one a stream was sent before', () => {
    const type = snapshot().types[TYPE_URL.cluster];
    const enc = new ResponseEncoder('sluice');
    const parts = { url: TYPE_URL.cluster, type, subscriptionKey: '*|', selects: () => true };
    const nonceOf = (bytes: Buffer) => Number(decode<{ nonce: string }>(SOTW, bytes).nonce);
    // many streams whose last nonces are older than the response: one copy for all
    const first = enc.sotw(parts, 0);
    for (let last = 0; last < first.nonce; last++) expect(enc.sotw(parts, last).bytes).toBe(first.bytes);
    expect(nonceOf(first.bytes)).toBe(first.nonce);
    // a stream that was already sent that nonce (or a later one) gets a newer one
    const again = enc.sotw(parts, first.nonce);
    expect(again.nonce).toBeGreaterThan(first.nonce);
    expect(nonceOf(again.bytes)).toBe(again.nonce);
    const later = enc.mintNonce();
    const afterLater = enc.sotw(parts, later);
    expect(afterLater.nonce).toBeGreaterThan(later);
    // the payload is the same whatever the nonce
    const { nonce: _a, ...restA } = decode<Record<string, unknown>>(SOTW, first.bytes);
    const { nonce: _b, ...restB } = decode<Record<string, unknown>>(SOTW, afterLater.bytes);
    expect(restB).toEqual(restA);
  });

  it('a delta response from per-resource entries decodes as the whole response encoded at once', () => {
    const snap = snapshot();
    const type = snap.types[TYPE_URL.cluster];
    const enc = new ResponseEncoder('sluice');
    const changed = [...type.resources.values()].map((r) => ({ name: r.name, resource: r }));
    const header = { url: TYPE_URL.cluster, systemVersion: type.version, removed: ['gone'], nonce: '7' };
    const bytes = enc.delta(header, changed);
    enc.delta({ ...header, nonce: '8' }, changed);
    expect(enc.stats).toMatchObject({ encoded: changed.length, reused: changed.length });
    const whole = encode(DELTA, {
      system_version_info: type.version,
      resources: changed.map((c) => ({ name: c.name, version: c.resource.hash, resource: c.resource.resource })),
      type_url: TYPE_URL.cluster,
      removed_resources: ['gone'],
      nonce: '7',
      control_plane: { identifier: 'sluice' },
    });
    expect(decode(DELTA, bytes)).toEqual(decode(DELTA, whole));
  });
});

describe('HoldDeadlines', () => {
  it('fires in start order after the timeout, once per key, and not once cancelled', async () => {
    let now = 0;
    const d = new HoldDeadlines(50, () => now);
    const fired: string[] = [];
    const a = {};
    const b = {};
    const c = {};
    d.start(a, () => fired.push('a'));
    now = 10;
    d.start(b, () => fired.push('b'));
    d.start(a, () => fired.push('a again')); // already waiting: keeps its time
    d.start(c, () => fired.push('c'));
    d.cancel(c);
    expect(d.size).toBe(2);
    now = 55;
    await new Promise((r) => setTimeout(r, 80));
    expect(fired).toEqual(['a']);
    now = 65;
    await new Promise((r) => setTimeout(r, 30));
    expect(fired).toEqual(['a', 'b']);
    expect(d.size).toBe(0);
  });
});
