// Where alert webhooks may go (server-side request forgery guard). A rule's creator picks the
// URL, so without this the control plane would POST to anything it can reach: the cloud
// metadata service (169.254.169.254), its own loopback ports, the private network. A
// destination is refused when any address it resolves to is loopback, private, link-local,
// shared (CGNAT), multicast or otherwise reserved — IPv4-mapped IPv6 (::ffff:127.0.0.1) and
// the URL parser's spellings (http://2130706433, http://0x7f.1) included — unless the admin
// allow-list (SLUICE_WEBHOOK_ALLOW_HOSTS: host names, IPs or CIDRs) names it. The check runs
// when a rule is saved and again at each delivery on the addresses the connection actually
// uses (the lookup is pinned: a name that re-resolves to 127.0.0.1 after the check, DNS
// rebinding, is refused). Refusals carry the stable code WEBHOOK_DESTINATION_FORBIDDEN.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { SluiceError } from '../../platform/errors.ts';

export const WEBHOOK_DESTINATION_FORBIDDEN = 'WEBHOOK_DESTINATION_FORBIDDEN';

const BLOCKED: [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'], // "this network"
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'], // shared address space (CGNAT)
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'], // link-local: cloud metadata services
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.0.2.0', 24, 'ipv4'],
  ['192.88.99.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['198.51.100.0', 24, 'ipv4'],
  ['203.0.113.0', 24, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'], // multicast
  ['240.0.0.0', 4, 'ipv4'], // reserved, broadcast
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'], // NAT64: embeds an IPv4 address
  ['64:ff9b:1::', 48, 'ipv6'],
  ['100::', 64, 'ipv6'],
  ['2001:db8::', 32, 'ipv6'],
  ['2002::', 16, 'ipv6'], // 6to4: embeds an IPv4 address
  ['fc00::', 7, 'ipv6'], // unique local
  ['fe80::', 10, 'ipv6'], // link-local
  ['fec0::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'], // multicast
];

function blockedList(): BlockList {
  const list = new BlockList();
  // BlockList matches IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) against the IPv4 rules
  for (const [net, prefix, type] of BLOCKED) list.addSubnet(net, prefix, type);
  return list;
}

const bare = (hostname: string): string => hostname.replace(/^\[|\]$/g, '').toLowerCase();
const familyOf = (address: string): 'ipv4' | 'ipv6' => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

export function forbiddenDestination(message: string, details: Record<string, unknown> = {}): SluiceError {
  return new SluiceError('BAD_USER_INPUT', message, { field: 'webhookUrl', reason: WEBHOOK_DESTINATION_FORBIDDEN, ...details });
}

export const isForbiddenDestination = (err: unknown): err is SluiceError => err instanceof SluiceError && err.details?.reason === WEBHOOK_DESTINATION_FORBIDDEN;

export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

export class WebhookTargetPolicy {
  private readonly blocked = blockedList();
  private readonly allowedNets = new BlockList();
  private readonly allowedHosts = new Set<string>();

  /** @param allow admin allow-list entries: host names (exact), IP addresses, or CIDRs (10.1.0.0/16, fd00::/8) */
  constructor(
    allow: readonly string[] = [],
    private readonly resolver: Resolver = systemResolver,
  ) {
    for (const raw of allow) {
      const entry = bare(raw.trim());
      if (!entry) continue;
      const slash = entry.indexOf('/');
      if (slash > 0) {
        const net = entry.slice(0, slash);
        const prefix = Number(entry.slice(slash + 1));
        const v = isIP(net);
        if (!v || !Number.isInteger(prefix) || prefix < 0 || prefix > (v === 4 ? 32 : 128)) throw new Error(`SLUICE_WEBHOOK_ALLOW_HOSTS: "${raw}" is not a CIDR`);
        this.allowedNets.addSubnet(net, prefix, v === 4 ? 'ipv4' : 'ipv6');
      } else if (isIP(entry)) {
        this.allowedNets.addAddress(entry, familyOf(entry));
      } else {
        this.allowedHosts.add(entry);
      }
    }
  }

  private hostAllowed(hostname: string): boolean {
    return this.allowedHosts.has(bare(hostname));
  }

  /** Throws WEBHOOK_DESTINATION_FORBIDDEN when `address` may not be connected to (for a URL whose host is `hostname`). */
  checkAddress(hostname: string, address: string): void {
    if (this.hostAllowed(hostname)) return;
    const family = familyOf(address);
    if (this.allowedNets.check(address, family)) return;
    if (this.blocked.check(address, family)) {
      throw forbiddenDestination(`webhook destination ${bare(hostname)} (${address}) is a loopback, private, link-local or reserved address; an admin can allow it with SLUICE_WEBHOOK_ALLOW_HOSTS`, { address });
    }
  }

  /** Parses and checks a webhook URL (scheme, literal address, and every address the name resolves to now). */
  async checkUrl(raw: string): Promise<URL> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new SluiceError('BAD_USER_INPUT', 'webhookUrl is not a URL', { field: 'webhookUrl' });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SluiceError('BAD_USER_INPUT', 'webhookUrl must be http or https', { field: 'webhookUrl' });
    if (url.username || url.password) throw new SluiceError('BAD_USER_INPUT', 'webhookUrl must not carry credentials', { field: 'webhookUrl' });
    const host = bare(url.hostname);
    if (isIP(host)) this.checkAddress(host, host);
    else if (!this.hostAllowed(host)) {
      let addresses: LookupAddress[] = [];
      try {
        addresses = await this.resolver(host);
      } catch {
        // a name that does not resolve yet is accepted; each delivery checks what it resolves to then
      }
      for (const a of addresses) this.checkAddress(host, a.address);
    }
    return url;
  }

  /**
   * A `lookup` for the connection (net.connect's option): resolves, refuses if any address is
   * forbidden, and hands the socket exactly the addresses checked — no second resolution.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    const done = callback as (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
    const host = bare(hostname);
    const resolved: Promise<LookupAddress[]> = isIP(host) ? Promise.resolve([{ address: host, family: isIP(host) }]) : this.resolver(host);
    resolved.then(
      (addresses) => {
        try {
          if (addresses.length === 0) throw new Error(`${host} did not resolve`);
          for (const a of addresses) this.checkAddress(host, a.address);
        } catch (err) {
          done(err as NodeJS.ErrnoException, '', 0);
          return;
        }
        const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
        const list = wanted.length ? wanted : addresses;
        if (options.all) done(null, list);
        else done(null, (list[0] as LookupAddress).address, (list[0] as LookupAddress).family);
      },
      (err: NodeJS.ErrnoException) => done(err, '', 0),
    );
  };
}
