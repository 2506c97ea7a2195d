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

/** `streamId` and `nodeId` are there without building the `proxy` view (see `versions`). */
export type ProxyStatusEvent =
  | { kind: 'connected'; streamId: string; nodeId: string; proxy: ProxyStatus }
  | { kind: 'updated'; streamId: string; nodeId: string; proxy: ProxyStatus; typeUrl: XdsTypeUrl }
  | { kind: 'disconnected'; streamId: string; nodeId: string; proxy: ProxyStatus };

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

  /** One stream's sent and ACKed version of one type, without building a view (cheap, for hot listeners). */
  versions(streamId: string, typeUrl: XdsTypeUrl): { sent: string | null; acked: string | null } | undefined {
    const t = this.entries.get(streamId)?.types.get(typeUrl);
    return t && { sent: t.sentVersion, acked: t.ackedVersion };
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
    this.emit(() => lazyEvent('connected', entry));
  }

  disconnected(streamId: string): void {
    const e = this.entries.get(streamId);
    if (!e) return;
    this.entries.delete(streamId);
    this.emit(() => lazyEvent('disconnected', e));
  }

  subscribed(streamId: string, typeUrl: XdsTypeUrl, names: Iterable<string> | '*'): void {
    const t = this.typeOf(streamId, typeUrl);
    if (!t) return;
    t.subscribed = names === '*' ? '*' : [...names].sort();
    this.updated(streamId, typeUrl);
  }

  // (sent and acked run for every proxy on every change: no closure or view per call)
  sent(streamId: string, typeUrl: XdsTypeUrl, version: string, nonce: string, at: Date): void {
    const t = this.typeOf(streamId, typeUrl);
    if (!t) return;
    t.sentVersion = version;
    t.sentAt = at;
    t.pendingNonce = nonce;
    this.updated(streamId, typeUrl);
  }

  acked(streamId: string, typeUrl: XdsTypeUrl, version: string, at: Date): void {
    const t = this.typeOf(streamId, typeUrl);
    if (!t) return;
    t.ackedVersion = version;
    t.ackedAt = at;
    t.pendingNonce = null;
    this.updated(streamId, typeUrl);
  }

  nacked(streamId: string, typeUrl: XdsTypeUrl, nack: ProxyNack): void {
    const t = this.typeOf(streamId, typeUrl);
    if (!t) return;
    t.lastNack = nack;
    t.pendingNonce = null;
    this.updated(streamId, typeUrl);
  }

  /** The stream's record of one type (made on first use); undefined for a stream not connected. */
  private typeOf(streamId: string, typeUrl: XdsTypeUrl): MutableType | undefined {
    const e = this.entries.get(streamId);
    if (!e) return undefined;
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
    return t;
  }

  private updated(streamId: string, typeUrl: XdsTypeUrl): void {
    if (this.listeners.size === 0) return;
    this.dispatch(lazyEvent('updated', this.entries.get(streamId)!, typeUrl));
  }

  private emit(make: () => ProxyStatusEvent): void {
    if (this.listeners.size === 0) return;
    this.dispatch(make());
  }

  private dispatch(event: ProxyStatusEvent): void {
    if (this.listeners.size === 1) {
      // the usual case: no copy of the listener set per event
      const [only] = this.listeners;
      try {
        only!(event);
      } catch {
        /* a broken listener must not break the ADS stream that reported */
      }
      return;
    }
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
class LazyEvent {
  readonly streamId: string;
  readonly nodeId: string;
  private view: ProxyStatus | undefined;
  constructor(
    readonly kind: ProxyStatusEvent['kind'],
    private readonly entry: Entry,
    readonly typeUrl?: XdsTypeUrl,
  ) {
    this.streamId = entry.streamId;
    this.nodeId = entry.nodeId;
  }
  get proxy(): ProxyStatus {
    return (this.view ??= view(this.entry));
  }
}

function lazyEvent(kind: 'connected' | 'disconnected', e: Entry): ProxyStatusEvent;
function lazyEvent(kind: 'updated', e: Entry, typeUrl: XdsTypeUrl): ProxyStatusEvent;
function lazyEvent(kind: ProxyStatusEvent['kind'], e: Entry, typeUrl?: XdsTypeUrl): ProxyStatusEvent {
  return new LazyEvent(kind, e, typeUrl) as ProxyStatusEvent;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
