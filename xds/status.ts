// Proxy status: what each connected proxy has been sent, has ACKed and has refused,
// per resource type (the data behind an `istioctl proxy-status`-like view). The ADS
// server writes it; the control plane reads `list()` and listens with `onChange`.
import type { XdsTypeUrl } from '../proto/envoy.ts';

/** SYNCED: ACKed what was sent. STALE: a response awaits its ACK. NACKED: refused the latest. */
export type ProxySyncState = 'NOT_SENT' | 'SYNCED' | 'STALE' | 'NACKED';

export interface ProxyNack {
  /** the version Sluice sent with the refused response (not the client's version_info) */
  version: string;
  nonce: string;
  /** the version the proxy says it still runs */
  clientVersion: string;
  message: string;
  code: number;
  at: Date;
}

export interface ProxyTypeStatus {
  typeUrl: XdsTypeUrl;
  /** subscribed names, or '*' for a wildcard subscription */
  subscribed: string[] | '*';
  sentVersion: string | null;
  sentAt: Date | null;
  ackedVersion: string | null;
  ackedAt: Date | null;
  /** nonce of the response awaiting ACK/NACK */
  pendingNonce: string | null;
  lastNack: ProxyNack | null;
  state: ProxySyncState;
}

export interface ProxyStatus {
  /** one entry per ADS stream: a node that reconnects gets a new stream id */
  streamId: string;
  nodeId: string;
  /** node.cluster as the proxy sent it */
  cluster: string;
  userAgent: string;
  protocol: 'sotw' | 'delta';
  peer: string;
  connectedAt: Date;
  types: Partial<Record<XdsTypeUrl, ProxyTypeStatus>>;
}

export type ProxyStatusEvent =
  | { kind: 'connected'; proxy: ProxyStatus }
  | { kind: 'updated'; proxy: ProxyStatus; typeUrl: XdsTypeUrl }
  | { kind: 'disconnected'; proxy: ProxyStatus };

export type ProxyStatusListener = (event: ProxyStatusEvent) => void;

type MutableType = Omit<ProxyTypeStatus, 'state'>;
interface Entry extends Omit<ProxyStatus, 'types'> {
  types: Map<XdsTypeUrl, MutableType>;
}

function stateOf(t: MutableType): ProxySyncState {
  if (t.sentVersion === null) return 'NOT_SENT';
  if (t.lastNack && t.lastNack.version === t.sentVersion && t.pendingNonce === null) return 'NACKED';
  if (t.pendingNonce !== null) return 'STALE';
  return 'SYNCED';
}

function view(e: Entry): ProxyStatus {
  const types: Partial<Record<XdsTypeUrl, ProxyTypeStatus>> = {};
  for (const [url, t] of e.types) {
    types[url] = {
      ...t,
      subscribed: t.subscribed === '*' ? '*' : [...t.subscribed],
      lastNack: t.lastNack ? { ...t.lastNack } : null,
      state: stateOf(t),
    };
  }
  return {
    streamId: e.streamId,
    nodeId: e.nodeId,
    cluster: e.cluster,
    userAgent: e.userAgent,
    protocol: e.protocol,
    peer: e.peer,
    connectedAt: e.connectedAt,
    types,
  };
}

export class ProxyStatusRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<ProxyStatusListener>();

  /** Every connected proxy stream, by node id then stream id. */
  list(): ProxyStatus[] {
    return [...this.entries.values()]
      .sort((a, b) => (a.nodeId === b.nodeId ? cmp(a.streamId, b.streamId) : cmp(a.nodeId, b.nodeId)))
      .map(view);
  }

  get(streamId: string): ProxyStatus | undefined {
    const e = this.entries.get(streamId);
    return e && view(e);
  }

  byNode(nodeId: string): ProxyStatus[] {
    return this.list().filter((p) => p.nodeId === nodeId);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Listens to every change; returns the unsubscribe. Listener errors are swallowed. */
  onChange(listener: ProxyStatusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // --- written by the ADS server -------------------------------------------------------

  connected(info: Omit<ProxyStatus, 'types'>): void {
    const entry: Entry = { ...info, types: new Map() };
    this.entries.set(info.streamId, entry);
    this.emit(() => lazyEvent({ kind: 'connected' }, entry));
  }

  disconnected(streamId: string): void {
    const e = this.entries.get(streamId);
    if (!e) return;
    this.entries.delete(streamId);
    this.emit(() => lazyEvent({ kind: 'disconnected' }, e));
  }

  subscribed(streamId: string, typeUrl: XdsTypeUrl, names: Iterable<string> | '*'): void {
    this.patch(streamId, typeUrl, (t) => {
      t.subscribed = names === '*' ? '*' : [...names].sort();
    });
  }

  sent(streamId: string, typeUrl: XdsTypeUrl, version: string, nonce: string, at: Date): void {
    this.patch(streamId, typeUrl, (t) => {
      t.sentVersion = version;
      t.sentAt = at;
      t.pendingNonce = nonce;
    });
  }

  acked(streamId: string, typeUrl: XdsTypeUrl, version: string, at: Date): void {
    this.patch(streamId, typeUrl, (t) => {
      t.ackedVersion = version;
      t.ackedAt = at;
      t.pendingNonce = null;
    });
  }

  nacked(streamId: string, typeUrl: XdsTypeUrl, nack: ProxyNack): void {
    this.patch(streamId, typeUrl, (t) => {
      t.lastNack = nack;
      t.pendingNonce = null;
    });
  }

  private patch(streamId: string, typeUrl: XdsTypeUrl, fn: (t: MutableType) => void): void {
    const e = this.entries.get(streamId);
    if (!e) return;
    let t = e.types.get(typeUrl);
    if (!t) {
      t = {
        typeUrl,
        subscribed: [],
        sentVersion: null,
        sentAt: null,
        ackedVersion: null,
        ackedAt: null,
        pendingNonce: null,
        lastNack: null,
      };
      e.types.set(typeUrl, t);
    }
    fn(t);
    this.emit(() => lazyEvent({ kind: 'updated', typeUrl }, e));
  }

  private emit(make: () => ProxyStatusEvent): void {
    if (this.listeners.size === 0) return;
    const event = make();
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch {
        /* a broken listener must not break the ADS stream that reported */
      }
    }
  }
}

/**
 * An event whose `proxy` view is built on first read, not per event: a fan-out makes one
 * event per proxy per type, and most listeners never look. Read it in the listener (the
 * view is of the proxy as it is when first read).
 */
function lazyEvent<E extends Omit<ProxyStatusEvent, 'proxy'>>(base: E, e: Entry): E & { readonly proxy: ProxyStatus } {
  let proxy: ProxyStatus | undefined;
  return Object.defineProperty(base, 'proxy', {
    enumerable: true,
    get: () => (proxy ??= view(e)),
  }) as E & { readonly proxy: ProxyStatus };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
