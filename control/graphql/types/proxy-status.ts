// GraphQL for the data plane's view of configuration: per connected proxy, the version it
// ACKed for each resource type and any NACK (like `istioctl proxy-status`).
import { topics } from '../../../platform/pubsub/port.ts';
import { builder } from '../builder.ts';
import { PROXIES_MAX, PROXY_TYPES_MAX, capped } from '../list-bounds.ts';

export interface ProxyTypeStatus {
  typeUrl: string;
  ackedVersion: string | null;
  nackedVersion: string | null;
  nackError: string | null;
}

export interface ProxyStatusEntry {
  nodeId: string;
  connectedAt: Date;
  types: ProxyTypeStatus[];
}

/** What the xDS server exposes; the server's registry is adapted to this in control/main. */
export interface ProxyStatusSource {
  list(): ProxyStatusEntry[];
  /** the versions the control plane currently serves this node, per type URL */
  currentVersions(nodeId: string): Record<string, string>;
}

const ProxyTypeStatusRef = builder.objectRef<ProxyTypeStatus>('ProxyTypeStatus').implement({
  fields: (t) => ({
    typeUrl: t.exposeString('typeUrl'),
    ackedVersion: t.exposeString('ackedVersion', { nullable: true }),
    nackedVersion: t.exposeString('nackedVersion', { nullable: true }),
    nackError: t.exposeString('nackError', { nullable: true }),
  }),
});

const ProxyStatusRef = builder.objectRef<ProxyStatusEntry & { synced: boolean }>('ProxyStatus').implement({
  fields: (t) => ({
    nodeId: t.exposeString('nodeId'),
    connectedAt: t.expose('connectedAt', { type: 'DateTime' }),
    synced: t.exposeBoolean('synced', { description: 'true when every type ACKed the version the control plane serves' }),
    types: t.field({ type: [ProxyTypeStatusRef], resolve: (p) => capped(p.types, PROXY_TYPES_MAX) }),
  }),
});

function withSync(source: ProxyStatusSource): (ProxyStatusEntry & { synced: boolean })[] {
  // capped at the bound the cost model assumes (list-bounds.ts)
  return capped(source.list(), PROXIES_MAX).map((p) => {
    const current = source.currentVersions(p.nodeId);
    return { ...p, synced: p.types.every((ty) => current[ty.typeUrl] === undefined || ty.ackedVersion === current[ty.typeUrl]) };
  });
}

builder.queryFields((t) => ({
  proxyStatus: t.field({
    type: [ProxyStatusRef],
    authScopes: { authenticated: true },
    resolve: (_root, _args, ctx) => withSync(ctx.proxyStatus),
  }),
}));

builder.subscriptionFields((t) => ({
  proxyStatusChanged: t.field({
    type: [ProxyStatusRef],
    authScopes: { authenticated: true },
    subscribe: (_root, _args, ctx) => ctx.pubsub.subscribe(topics.proxyStatus),
    resolve: (_payload, _args, ctx) => withSync(ctx.proxyStatus),
  }),
}));
