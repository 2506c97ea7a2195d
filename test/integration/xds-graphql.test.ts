// The control plane → xDS path end to end, driven only through the GraphQL API: a real
// control plane (SQLite) whose data-plane topic triggers the xDS publisher exactly as
// `npm start` wires it, two gRPC backends registered as the instances of versions v1 and
// v2, and a proxyless @grpc/grpc-js-xds client (its own process) calling
// `xds:///{group}.sluice`. Traffic splits, a live weight change, stopping a version, and
// the proxy-status view (ACKs, a NACK, the subscription) are checked where the calls land.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import { loadDataPlaneModel } from '../../control/domain/data-plane.ts';
import { notifyProxyStatus, proxyStatusSource, publishProxyStatusChanges, feedDataPlaneChanges } from '../../control/proxy-status.ts';
import { ENVOY_TYPES, TYPE_URL, packAny, type XdsTypeUrl } from '../../proto/envoy.ts';
import { makeSnapshot, snapshotVersions, type Snapshot } from '../../xds/cache.ts';
import { apiListenerName, clusterName } from '../../xds/contract.ts';
import { createXdsControl, type XdsControl } from '../../xds/publisher.ts';
import { xdsSettingsFromEnv } from '../../xds/settings.ts';
import { contentHash, type EnvoyResources } from '../../xds/translate.ts';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';
import { startBackend, type Backend } from '../xds/fixtures/backend.ts';
import { startXdsClient, type XdsClientProcess } from '../xds/fixtures/client-process.ts';

const GROUP = 'wine-xds';
const LISTENER = apiListenerName(GROUP);
const TARGET = `xds:///${LISTENER}`;
const NODE_ID = 'graphql-xds-client-1';
const ALL_TYPES: readonly XdsTypeUrl[] = [TYPE_URL.listener, TYPE_URL.route, TYPE_URL.cluster, TYPE_URL.endpoint];

interface ProxyTypeView {
  typeUrl: string;
  ackedVersion: string | null;
  nackedVersion: string | null;
  nackError: string | null;
}
interface ProxyView {
  nodeId: string;
  connectedAt: string;
  synced: boolean;
  types: ProxyTypeView[];
}
const PROXY_FIELDS = 'nodeId connectedAt synced types { typeUrl ackedVersion nackedVersion nackError }';

let cp: TestControlPlane;
let xds: XdsControl;
let client: XdsClientProcess;
let v1: Backend;
let v2: Backend;
let groupId: string;
let v1Id: string;
let v2Id: string;
let stopDataPlaneFeed: (() => Promise<void>) | undefined;
let stopPublishing: (() => void) | undefined;

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function gqlOk<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const r = await cp.gql<T>(query, variables);
  expect(r.errors).toBeUndefined();
  return r.data!;
}

function setTraffic(p1: number, p2: number) {
  return gqlOk<{ setTrafficAllocation: { versions: { name: string; trafficPercent: number }[] } }>(
    `mutation($g: ID!, $a: [TrafficAllocationInput!]!) { setTrafficAllocation(groupId: $g, allocations: $a) { versions { name trafficPercent } } }`,
    { g: groupId, a: [{ versionId: v1Id, percent: p1 }, { versionId: v2Id, percent: p2 }] },
  );
}

/** The one ADS stream of the client, as the xDS server's registry sees it. */
function stream() {
  const list = xds.registry.byNode(NODE_ID);
  expect(list).toHaveLength(1);
  return list[0]!;
}

/** True once the client has ACKed every type of the snapshot the control plane serves now. */
function clientHasCurrent(): boolean {
  const current = xds.current;
  const list = xds.registry.byNode(NODE_ID);
  if (!current || list.length !== 1) return false;
  return ALL_TYPES.every((url) => list[0]!.types[url]?.ackedVersion === current.types[url].version);
}

/** Waits for a rebuild after `before` (routes changed) and for the client to ACK it. */
async function waitForPush(before: Snapshot | undefined): Promise<void> {
  await waitFor('a new snapshot', () => xds.current !== undefined && xds.current !== before);
  await xds.settled();
  await waitFor('the client to ACK the snapshot', clientHasCurrent);
}

async function proxyStatus(): Promise<ProxyView[]> {
  return (await gqlOk<{ proxyStatus: ProxyView[] }>(`query { proxyStatus { ${PROXY_FIELDS} } }`)).proxyStatus;
}

/** The client calling in a loop (batches of 40, 8 in flight) until stopped. */
function callLoop() {
  let running = true;
  const counts: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let batches = 0;
  const add = (into: Record<string, number>, from: Record<string, number>) => {
    for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
  };
  const done = (async () => {
    while (running) {
      const r = await client.send({ cmd: 'calls', target: TARGET, count: 40, deadlineMs: 2000 });
      add(counts, r.counts);
      add(errors, r.errors);
      batches++;
    }
  })();
  return {
    batches: () => batches,
    async stop() {
      running = false;
      await done;
      return { counts, errors, batches };
    },
  };
}

beforeAll(async () => {
  v1 = await startBackend('v1');
  v2 = await startBackend('v2');
  cp = await startTestControlPlane({ provider: 'sqlite', autoComplete: false });
  const prisma = cp.plane.prisma;
  // wired as control/main.ts wires it
  xds = createXdsControl({
    loadModel: () => loadDataPlaneModel(prisma),
    settings: xdsSettingsFromEnv({}).dataPlane,
    onPublished: notifyProxyStatus(cp.pubsub),
  });
  cp.plane.setProxyStatus(proxyStatusSource(xds));
  stopPublishing = publishProxyStatusChanges(xds, cp.pubsub);
  const port = await xds.start(0, '127.0.0.1');
  stopDataPlaneFeed = feedDataPlaneChanges(xds, cp.pubsub);
  client = await startXdsClient(port, NODE_ID);
});

afterAll(async () => {
  await client?.stop();
  await stopDataPlaneFeed?.();
  stopPublishing?.();
  await xds?.close();
  await cp?.close();
  await v1?.close();
  await v2?.close();
});

describe('GraphQL → control plane → xDS → grpc-js-xds client', () => {
  it('brings up v1 and v2 on the two backends and splits 1,000 calls 80/20 within ±5 points', async () => {
    groupId = (
      await gqlOk<{ createServiceGroup: { id: string } }>(
        `mutation($input: CreateServiceGroupInput!) { createServiceGroup(input: $input) { id } }`,
        { input: { name: GROUP, type: 'MODEL_SERVICE', description: 'xDS end to end' } },
      )
    ).createServiceGroup.id;
    const add = async (name: string, model: string) =>
      (
        await gqlOk<{ addServiceVersion: { id: string } }>(
          `mutation($g: ID!, $input: AddServiceVersionInput!) { addServiceVersion(groupId: $g, input: $input) { id } }`,
          { g: groupId, input: { name, model: { name: 'wine-classifier', version: model } } },
        )
      ).addServiceVersion.id;
    v1Id = await add('v1', '1');
    v2Id = await add('v2', '2');
    const started = await gqlOk<{ startServiceGroup: { status: string } }>(
      `mutation($id: ID!) { startServiceGroup(id: $id) { status } }`,
      { id: groupId },
    );
    expect(started.startServiceGroup.status).toBe('STARTING');
    expect(cp.orchestrator.deployments.map((d) => d.versionId).sort()).toEqual([v1Id, v2Id].sort());

    // the orchestrator reports each version's one replica: the backends' addresses
    for (const [versionId, backend, name] of [[v1Id, v1, 'v1'], [v2Id, v2, 'v2']] as const) {
      cp.orchestrator.emit({
        type: 'instance',
        versionId,
        instance: { name: `${GROUP}-${name}-0`, state: 'RUNNING', restartCount: 0, host: '127.0.0.1', port: backend.port },
      });
      cp.orchestrator.emit({ type: 'version', versionId, status: 'RUNNING' });
    }
    await cp.settle();
    const group = await gqlOk<{ serviceGroup: { status: string; versions: { name: string; status: string; trafficPercent: number }[] } }>(
      `query($id: ID) { serviceGroup(id: $id) { status versions { name status trafficPercent } } }`,
      { id: groupId },
    );
    expect(group.serviceGroup.status).toBe('RUNNING');
    expect(group.serviceGroup.versions.map((v) => v.status)).toEqual(['RUNNING', 'RUNNING']);

    // the client resolves the listener; until traffic is set, the first running version has it all
    await waitFor('a snapshot with both versions', () =>
      xds.current?.types[TYPE_URL.cluster].resources.has(clusterName(GROUP, 'v2')) === true);
    await xds.settled();
    const warm = await client.send({ cmd: 'calls', target: TARGET, count: 20 });
    expect(warm.errors).toEqual({});
    await waitFor('the client to ACK the snapshot', clientHasCurrent);

    const before = xds.current;
    const set = await setTraffic(80, 20);
    expect(set.setTrafficAllocation.versions.map((v) => [v.name, v.trafficPercent])).toEqual([['v1', 80], ['v2', 20]]);
    await waitForPush(before);

    const r = await client.send({ cmd: 'calls', target: TARGET, count: 1000 });
    expect(r.errors).toEqual({});
    expect((r.counts.v1 ?? 0) + (r.counts.v2 ?? 0)).toBe(1000);
    const share1 = ((r.counts.v1 ?? 0) / 1000) * 100;
    console.log(`[xds-graphql] 80/20: ${JSON.stringify(r.counts)} in ${r.ms.toFixed(0)} ms`);
    expect(share1).toBeGreaterThanOrEqual(75);
    expect(share1).toBeLessThanOrEqual(85);
  });

  it('setTrafficAllocation 0/100 moves the live client to v2 within 1 s of the reply, on the same stream', async () => {
    const streamBefore = stream();
    const before = xds.current;
    // the client is already calling, one call at a time, when the mutation goes out
    const moved = client.send({ cmd: 'until', target: TARGET, version: 'v2', consecutive: 30, timeoutMs: 5000 });
    const set = await setTraffic(0, 100);
    const repliedAt = performance.now();
    expect(set.setTrafficAllocation.versions.map((v) => [v.name, v.trafficPercent])).toEqual([['v1', 0], ['v2', 100]]);
    const r = await moved;
    const receivedAt = performance.now();
    // The child began the command no later than `receivedAt - r.ms` (by our clock), so the
    // first call of the unbroken v2 run started no later than this many ms after the reply.
    const switchAfterReplyMs = receivedAt - r.ms + r.switchedAfterMs! - repliedAt;
    console.log(`[xds-graphql] mutation reply → client on v2: ≤ ${switchAfterReplyMs.toFixed(0)} ms (calls before the switch: ${JSON.stringify(r.counts)})`);
    expect(switchAfterReplyMs).toBeLessThanOrEqual(1000);
    expect(r.errors).toEqual({});

    const after = await client.send({ cmd: 'calls', target: TARGET, count: 200 });
    expect(after.counts).toEqual({ v2: 200 });
    await waitForPush(before);
    // no reconnect: the same ADS stream, and the API shows the same connection time
    const streamAfter = stream();
    expect(streamAfter.streamId).toBe(streamBefore.streamId);
    expect(streamAfter.connectedAt).toEqual(streamBefore.connectedAt);
    const listed = (await proxyStatus()).filter((p) => p.nodeId === NODE_ID);
    expect(listed).toHaveLength(1);
    expect(new Date(listed[0]!.connectedAt).getTime()).toBe(streamBefore.connectedAt.getTime());
  });

  it('stopServiceVersion on v1: every call goes to v2 and none fails while v1 goes away', async () => {
    const before = xds.current;
    const v1CallsBefore = v1.calls;
    const loop = callLoop();
    await waitFor('the call loop to run', () => loop.batches() >= 2);
    const stopped = await gqlOk<{ stopServiceVersion: { status: string } }>(
      `mutation($id: ID!) { stopServiceVersion(id: $id) { status } }`,
      { id: v1Id },
    );
    expect(stopped.stopServiceVersion.status).toBe('STOPPING');
    expect(cp.orchestrator.stopped).toContain(v1Id);
    // the orchestrator takes the replica away and reports the version stopped
    await v1.close();
    cp.orchestrator.emit({ type: 'version', versionId: v1Id, status: 'STOPPED' });
    await cp.settle();
    await waitForPush(before);
    expect(xds.current!.types[TYPE_URL.cluster].resources.has(clusterName(GROUP, 'v1'))).toBe(false);
    const pushedAt = loop.batches();
    await waitFor('calls after the push', () => loop.batches() >= pushedAt + 3);
    const r = await loop.stop();
    console.log(`[xds-graphql] during stop of v1: ${JSON.stringify(r.counts)} errors ${JSON.stringify(r.errors)} in ${r.batches} batches`);
    expect(r.errors).toEqual({});
    expect(Object.keys(r.counts)).toEqual(['v2']);
    expect(v1.calls).toBe(v1CallsBefore);

    const group = await gqlOk<{ serviceGroup: { versions: { name: string; status: string; trafficPercent: number }[] } }>(
      `query($id: ID) { serviceGroup(id: $id) { versions { name status trafficPercent } } }`,
      { id: groupId },
    );
    expect(group.serviceGroup.versions.map((v) => [v.name, v.status, v.trafficPercent])).toEqual([
      ['v1', 'STOPPED', 0],
      ['v2', 'RUNNING', 100],
    ]);
  });

  it('proxyStatus lists the client synced with its ACKed versions, then shows a NACK, pushed by proxyStatusChanged', async () => {
    await waitFor('the client to ACK the snapshot', clientHasCurrent);
    const current = snapshotVersions(xds.current!);
    const mine = (list: ProxyView[]) => list.filter((p) => p.nodeId === NODE_ID);
    const listed = mine(await proxyStatus());
    expect(listed).toHaveLength(1);
    expect(listed[0]!.synced).toBe(true);
    expect(Object.fromEntries(listed[0]!.types.map((t) => [t.typeUrl, t.ackedVersion]))).toEqual(current);
    for (const t of listed[0]!.types) expect(t.nackError).toBeNull();

    // subscribe, and wait until an update proves the subscription is live
    const ws: Client = cp.ws();
    const updates: ProxyView[][] = [];
    let failed: unknown = null;
    const unsubscribe = ws.subscribe<{ proxyStatusChanged: ProxyView[] }>(
      { query: `subscription { proxyStatusChanged { ${PROXY_FIELDS} } }` },
      {
        next: (msg) => {
          if (msg.data) updates.push(msg.data.proxyStatusChanged);
          if (msg.errors) failed = msg.errors;
        },
        error: (e) => {
          failed = e;
        },
        complete: () => undefined,
      },
    );
    try {
      await waitFor('the subscription to deliver', async () => {
        if (failed) throw new Error(`subscription failed: ${JSON.stringify(failed)}`);
        if (updates.length > 0) return true;
        await xds.rebuild(); // a rebuild publishes, as every snapshot does
        return false;
      });

      // a per-node override whose split has weights summing to zero: grpc-js-xds must refuse it
      const good = xds.current!;
      const bad = withRoute(good, LISTENER, packAny(ENVOY_TYPES.routeConfiguration, {
        name: LISTENER,
        virtual_hosts: [{
          name: GROUP,
          domains: ['*'],
          routes: [{
            match: { prefix: '/' },
            route: { weighted_clusters: { clusters: [{ name: clusterName(GROUP, 'v2'), weight: { value: 0 } }] } },
          }],
        }],
      }));
      const badRoute = bad.types[TYPE_URL.route].version;
      const seenBefore = updates.length;
      xds.cache.setSnapshot(bad, NODE_ID);
      const nackedIn = (list: ProxyView[]) =>
        mine(list)[0]?.types.find((t) => t.typeUrl === TYPE_URL.route && t.nackedVersion === badRoute && t.nackError);
      await waitFor('proxyStatusChanged to deliver the NACK', () => updates.slice(seenBefore).some((u) => nackedIn(u) !== undefined));

      const nacking = mine(await proxyStatus())[0]!;
      // judged against what this node is served (its override), not the shared snapshot
      expect(nacking.synced).toBe(false);
      const route = nackedIn([nacking])!;
      expect(route).toMatchObject({ nackedVersion: badRoute });
      expect(route.nackError).toMatch(/sum of weights is 0/);
      // the last good route stays what it runs, and it keeps serving
      expect(route.ackedVersion).toBe(good.types[TYPE_URL.route].version);
      const r = await client.send({ cmd: 'calls', target: TARGET, count: 100 });
      expect(r.errors).toEqual({});
      expect(r.counts).toEqual({ v2: 100 });

      // the override removed, the node is served (and ACKs) the shared snapshot again
      xds.cache.clearNodeSnapshot(NODE_ID);
      await waitFor('the client to ACK the shared snapshot again', () => stream().types[TYPE_URL.route]?.state === 'SYNCED');
      const recovered = mine(await proxyStatus())[0]!;
      expect(recovered.synced).toBe(true);
      const recoveredRoute = recovered.types.find((t) => t.typeUrl === TYPE_URL.route)!;
      expect(recoveredRoute.ackedVersion).toBe(good.types[TYPE_URL.route].version);
      // the refusal is history once a newer response is ACKed
      expect(recoveredRoute.nackError).toBeNull();
      expect(recoveredRoute.nackedVersion).toBeNull();
    } finally {
      unsubscribe();
    }
  });
});

/** The snapshot with one route configuration replaced (a hand-made resource). */
function withRoute(s: Snapshot, name: string, resource: ReturnType<typeof packAny>): Snapshot {
  const list = (url: XdsTypeUrl) => [...s.types[url].resources.values()];
  const resources: EnvoyResources = {
    listeners: list(TYPE_URL.listener),
    routes: list(TYPE_URL.route).map((r) => (r.name === name ? { ...r, resource, hash: contentHash(resource.value) } : r)),
    clusters: list(TYPE_URL.cluster),
    endpoints: list(TYPE_URL.endpoint),
  };
  return makeSnapshot(resources);
}
