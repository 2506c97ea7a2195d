// Bridges the xDS server's proxy registry to the GraphQL `proxyStatus` query and the
// `proxyStatusChanged` subscription: one adapter shared by `npm start` and the tests, so
// what the API reports is exactly what the running xDS server knows.
import { snapshotVersions } from '../xds/cache.ts';
import type { XdsControl } from '../xds/publisher.ts';
import type { ProxyStatusSource } from './graphql/types/proxy-status.ts';
import { topics, type PubSub } from '../platform/pubsub/port.ts';
import type { ChangeNotice } from './domain/changes.ts';

/** The registry's per-stream view, reshaped for GraphQL: per type, the ACKed version and the refusal standing now. */
export function proxyStatusSource(xds: Pick<XdsControl, 'registry' | 'cache'>): ProxyStatusSource {
  return {
    list: () =>
      xds.registry.list().map((p) => ({
        nodeId: p.nodeId,
        connectedAt: p.connectedAt,
        types: Object.values(p.types).map((t) => {
          // a refusal counts while it is the answer to the latest response; once the proxy
          // has ACKed something newer (or has a newer response pending) it is history
          const standing = t.state === 'NACKED' ? t.lastNack : null;
          return {
            typeUrl: t.typeUrl,
            ackedVersion: t.ackedVersion,
            nackedVersion: standing?.version ?? null,
            nackError: standing?.message ?? null,
          };
        }),
      })),
    // what this node is served: the shared snapshot, or a per-node override
    currentVersions: (nodeId) => {
      const snapshot = xds.cache.getSnapshot(nodeId);
      return snapshot ? snapshotVersions(snapshot) : {};
    },
  };
}

/** Tells subscribers something changed; the subscription re-reads the whole list. */
export function notifyProxyStatus(pubsub: PubSub): () => void {
  return () => void pubsub.publish(topics.proxyStatus, {});
}

/** Publishes on every connect, ACK, NACK and disconnect; returns the unsubscribe. */
export function publishProxyStatusChanges(xds: Pick<XdsControl, 'registry'>, pubsub: PubSub): () => void {
  return xds.registry.onChange(notifyProxyStatus(pubsub));
}

/** Rebuilds the xDS snapshot (debounced by the publisher) on every data-plane change; returns the stop. */
export function feedDataPlaneChanges(xds: Pick<XdsControl, 'trigger'>, pubsub: PubSub): () => Promise<void> {
  const changes = pubsub.subscribe<ChangeNotice>(topics.dataPlane);
  void (async () => {
    for await (const notice of changes) xds.trigger(notice.urgent ? { urgent: true } : undefined);
  })();
  return async () => {
    await changes.return?.();
  };
}
