// Make-before-break as a real proxyless client sees it: @grpc/grpc-js-xds (its own process)
// makes calls without pause while a version is added and another removed. The server's
// ADS stream to that client is observed (every response it is written, decoded, in order)
// and replayed against what the client holds:
//   - no CDS/EDS response drops a cluster (or its endpoints) that a route configuration the
//     client holds still references, and the client asked for;
//   - calls never fail (a weighted route to a cluster being removed, or to one not yet
//     received, would be UNAVAILABLE).
// A proxyless client asks for a cluster by name only after a route names it, so "cluster
// before route" is the client's own doing here (it queues calls until the cluster comes);
// the simulated Envoys of ordering.test.ts check that order for wildcard CDS.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPE_URL, decode, unpackAny } from '../../proto/envoy.ts';
import { SnapshotCache, makeSnapshot, type Snapshot } from '../../xds/cache.ts';
import { apiListenerName } from '../../xds/contract.ts';
import type { DataPlaneModel } from '../../xds/model.ts';
import { XdsServer, adsServiceDefinition, type AdsHandlers } from '../../xds/server.ts';
import { translate } from '../../xds/translate.ts';
import { startBackend, type Backend } from './fixtures/backend.ts';
import { startXdsClient, type XdsClientProcess } from './fixtures/client-process.ts';
import { SETTINGS, version } from './fixtures/model.ts';

const TARGET = `xds:///${apiListenerName('wine')}`;

/** One response as the client received it: its type and the resources it carries. */
export interface Seen {
  typeUrl: string;
  resources: { name: string; clusters: string[] }[];
}

interface RouteConfigShape {
  name?: string;
  virtual_hosts?: {
    routes?: { route?: { cluster?: string; weighted_clusters?: { clusters?: { name?: string }[] } } }[];
  }[];
}

/** The clusters a RouteConfiguration sends traffic to. */
function routeClusters(rc: RouteConfigShape): string[] {
  const out = new Set<string>();
  for (const vh of rc.virtual_hosts ?? []) {
    for (const r of vh.routes ?? []) {
      if (r.route?.cluster) out.add(r.route.cluster);
      for (const c of r.route?.weighted_clusters?.clusters ?? []) if (c.name) out.add(c.name);
    }
  }
  return [...out].sort();
}

/**
 * Replays responses (SotW: a CDS response replaces the set; an RDS or EDS response carries
 * what changed — absence is not deletion for those types) and returns every moment a
 * cluster or its endpoints went away while a held route configuration still named them.
 */
export function orderingViolations(seen: readonly Seen[]): string[] {
  const routes = new Map<string, string[]>();
  let clusters = new Set<string>();
  const endpoints = new Set<string>();
  const violations: string[] = [];
  const referenced = () => new Set([...routes.values()].flat());
  seen.forEach((s, i) => {
    const names = new Set(s.resources.map((r) => r.name));
    if (s.typeUrl === TYPE_URL.route) {
      for (const r of s.resources) routes.set(r.name, r.clusters);
      return;
    }
    if (s.typeUrl === TYPE_URL.endpoint) {
      for (const n of names) endpoints.add(n);
      return;
    }
    if (s.typeUrl !== TYPE_URL.cluster) return;
    const before = s.typeUrl === TYPE_URL.cluster ? clusters : endpoints;
    const used = referenced();
    for (const gone of before) {
      if (!names.has(gone) && used.has(gone)) {
        violations.push(`response ${i} (${s.typeUrl.split('.').at(-1)}) dropped ${gone} while a held route names it`);
      }
    }
    clusters = names;
    // a cluster that went away takes its endpoints with it
    for (const n of [...endpoints]) if (!names.has(n)) endpoints.delete(n);
  });
  return violations;
}

let backends: Record<string, Backend>;
let cache: SnapshotCache;
let xds: XdsServer;
let grpcServer: grpc.Server;
let client: XdsClientProcess;
const seen: Seen[] = [];

function wine(weights: Record<string, number>): DataPlaneModel {
  return {
    groups: [
      {
        groupId: 'g-wine',
        name: 'wine',
        versions: Object.entries(weights).map(([v, w]) => version(v, w, backends[v]!.port)),
      },
    ],
  };
}

function publish(weights: Record<string, number>): Snapshot {
  const snap = makeSnapshot(translate(wine(weights), SETTINGS));
  cache.setSnapshot(snap);
  return snap;
}

function observe(bytes: Buffer): void {
  const r = decode<{ type_url?: string; resources?: { type_url: string; value: Uint8Array }[] }>(
    'envoy.service.discovery.v3.DiscoveryResponse',
    bytes,
  );
  const typeUrl = r.type_url ?? '';
  seen.push({
    typeUrl,
    resources: (r.resources ?? []).map((a) => {
      const m = unpackAny<RouteConfigShape & { cluster_name?: string }>(a);
      const name = m.name ?? m.cluster_name ?? '';
      return { name, clusters: typeUrl === TYPE_URL.route ? routeClusters(m) : [] };
    }),
  });
}

/** The server's handlers, with every SotW response the client is written recorded first. */
function observed(h: AdsHandlers): AdsHandlers {
  return {
    ...h,
    StreamAggregatedResources: (call) => {
      const write = call.write.bind(call);
      call.write = ((chunk: Buffer, cb?: (err?: Error | null) => void) => {
        observe(chunk);
        return write(chunk, cb);
      }) as typeof call.write;
      h.StreamAggregatedResources(call);
    },
  };
}

async function waitFor(cond: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Until the client ACKed this snapshot's routes and clusters. */
async function synced(snap: Snapshot) {
  await waitFor(() => {
    const p = xds.registry.byNode(client.nodeId)[0];
    return (
      p?.types[TYPE_URL.route]?.ackedVersion === snap.types[TYPE_URL.route].version &&
      p.types[TYPE_URL.cluster]?.ackedVersion === snap.types[TYPE_URL.cluster].version
    );
  });
}

beforeAll(async () => {
  backends = { v1: await startBackend('v1'), v2: await startBackend('v2'), v3: await startBackend('v3') };
  cache = new SnapshotCache();
  publish({ v1: 50, v2: 50 });
  xds = new XdsServer({ cache, holdTimeoutMs: 60_000 });
  grpcServer = new grpc.Server();
  grpcServer.addService(adsServiceDefinition(), observed(xds.handlers()));
  const port = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  client = await startXdsClient(port, 'ordering-grpc-client');
  await client.send({ cmd: 'until', target: TARGET, version: 'v1', consecutive: 1, timeoutMs: 10_000 });
});

afterAll(async () => {
  await client?.stop();
  await xds?.close();
  grpcServer?.forceShutdown();
  for (const b of Object.values(backends ?? {})) await b.close();
});

describe('make-before-break seen by a grpc-js-xds client', () => {
  it('the replay finds a cluster dropped while a held route names it', () => {
    const route = (clusters: string[]): Seen => ({ typeUrl: TYPE_URL.route, resources: [{ name: 'r', clusters }] });
    const cds = (names: string[]): Seen => ({ typeUrl: TYPE_URL.cluster, resources: names.map((name) => ({ name, clusters: [] })) });
    // break-before-make: the cluster goes first, the route after
    expect(orderingViolations([cds(['a', 'b']), route(['a', 'b']), cds(['b']), route(['b'])])).toHaveLength(1);
    // make-before-break: the route stops naming it first
    expect(orderingViolations([cds(['a', 'b']), route(['a', 'b']), route(['b']), cds(['b'])])).toEqual([]);
  });

  it('adding a version and removing another under continuous calls: no failed call, no cluster dropped under a route', async () => {
    seen.length = 0;
    const run = client.send({ cmd: 'run', target: TARGET, deadlineMs: 5000 });
    await new Promise((r) => setTimeout(r, 300));
    // add v3
    const added = publish({ v1: 34, v2: 33, v3: 33 });
    await synced(added);
    await new Promise((r) => setTimeout(r, 300));
    // remove v1
    const removed = publish({ v2: 50, v3: 50 });
    await synced(removed);
    await new Promise((r) => setTimeout(r, 300));
    await client.send({ cmd: 'halt' });
    const r = await run;

    expect(r.errors).toEqual({});
    expect(r.counts.v1 ?? 0).toBeGreaterThan(0);
    expect(r.counts.v3 ?? 0).toBeGreaterThan(0);
    // the stream really carried both changes: a route naming v3, and clusters without v1
    expect(seen.some((s) => s.typeUrl === TYPE_URL.route && s.resources.some((x) => x.clusters.includes('sluice/wine/v3')))).toBe(true);
    const lastCds = seen.filter((s) => s.typeUrl === TYPE_URL.cluster).at(-1)!;
    expect(lastCds.resources.map((x) => x.name)).not.toContain('sluice/wine/v1');
    expect(orderingViolations(seen)).toEqual([]);
  }, 60_000);
});
