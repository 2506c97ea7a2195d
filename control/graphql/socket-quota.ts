// How many graphql-ws sockets and live subscriptions one caller may hold at once. Without a
// cap, 200 sockets x 50 subscriptions of one user turned every mutation into a fan-out of
// 10 000 resolver runs. Callers are counted by user id (anonymous sockets are refused before
// they count); a refused socket or subscription says which cap it met.

export interface SocketQuotaLimits {
  /** graphql-ws sockets per user, across every browser tab and client */
  maxSocketsPerUser: number;
  /** live subscriptions per user, across all of that user's sockets */
  maxSubscriptionsPerUser: number;
}

export const DEFAULT_SOCKET_QUOTA: SocketQuotaLimits = { maxSocketsPerUser: 20, maxSubscriptionsPerUser: 100 };

export class SocketQuota {
  private readonly sockets = new Map<string, number>();
  private readonly subscriptions = new Map<string, number>();

  constructor(private readonly limits: SocketQuotaLimits = DEFAULT_SOCKET_QUOTA) {}

  /** Takes a socket slot for the user; false when the user already holds the most allowed. */
  openSocket(userId: string): boolean {
    const held = this.sockets.get(userId) ?? 0;
    if (held >= this.limits.maxSocketsPerUser) return false;
    this.sockets.set(userId, held + 1);
    return true;
  }

  closeSocket(userId: string): void {
    decrement(this.sockets, userId);
  }

  /** Takes a subscription slot; false when the user already holds the most allowed. */
  subscribe(userId: string): boolean {
    const held = this.subscriptions.get(userId) ?? 0;
    if (held >= this.limits.maxSubscriptionsPerUser) return false;
    this.subscriptions.set(userId, held + 1);
    return true;
  }

  unsubscribe(userId: string, count = 1): void {
    for (let i = 0; i < count; i++) decrement(this.subscriptions, userId);
  }

  held(userId: string): { sockets: number; subscriptions: number } {
    return { sockets: this.sockets.get(userId) ?? 0, subscriptions: this.subscriptions.get(userId) ?? 0 };
  }
}

function decrement(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 0) - 1;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}
