// Alert webhooks: a POST of the alert as JSON, signed as CONTRACT.md says
//   x-sluice-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
// (re-signed on every attempt, so a receiver can reject stale timestamps), retried with
// exponential back-off on timeouts, network errors and non-2xx answers, and every
// delivery recorded (state, attempts, last status and error) in WebhookDelivery. Every
// attempt goes through the destination policy (webhook-target.ts): the URL is checked, the
// connection's DNS lookup is pinned to the checked addresses, redirects are not followed,
// and a refused destination fails the delivery at once (WEBHOOK_DESTINATION_FORBIDDEN).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Agent, fetch as undiciFetch } from 'undici';
import type { PrismaClient } from '../../platform/db/prisma.ts';
import { isForbiddenDestination, WEBHOOK_DESTINATION_FORBIDDEN, WebhookTargetPolicy } from './webhook-target.ts';

export const SIGNATURE_HEADER = 'x-sluice-signature';

export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** What a receiver does: true when the header is a valid signature of the body, at most `toleranceSeconds` old. */
export function verifyWebhookSignature(secret: string, header: string | undefined | null, body: string, options: { toleranceSeconds?: number; now?: number } = {}): boolean {
  if (!header) return false;
  const parts = new Map(header.split(',').map((p) => { const i = p.indexOf('='); return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as [string, string]; }));
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1');
  if (!Number.isInteger(t) || !v1 || !/^[0-9a-f]{64}$/.test(v1)) return false;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (options.toleranceSeconds ?? 300)) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
}

export interface WebhookOptions {
  prisma: PrismaClient;
  /** the rule's webhook secret in clear, for signing */
  secretFor: (alertId: string) => Promise<string | null>;
  attempts?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  timeoutMs?: number;
  /** called when a delivery reaches a final state (to refresh alertChanged) */
  onSettled?: (alertId: string) => void;
  /** where deliveries may go (default: public addresses only) */
  policy?: WebhookTargetPolicy;
}

export class WebhookDeliverer {
  private readonly inflight = new Set<Promise<void>>();
  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly policy: WebhookTargetPolicy;
  private readonly agent: Agent;

  constructor(private readonly o: WebhookOptions) {
    this.policy = o.policy ?? new WebhookTargetPolicy();
    // every connection resolves through the policy's pinned lookup
    this.agent = new Agent({ connect: { lookup: this.policy.lookup } });
  }

  /** Starts delivering in the background; `idle()` waits for every delivery under way. */
  enqueue(deliveryId: string): void {
    if (this.closed) return;
    const p = this.deliver(deliveryId).catch(() => undefined);
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Picks up deliveries a stopped process left PENDING. */
  async resume(): Promise<void> {
    for (const d of await this.o.prisma.webhookDelivery.findMany({ where: { state: 'PENDING' }, select: { id: true } })) this.enqueue(d.id);
  }

  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.all([...this.inflight]);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    void this.agent.close().catch(() => undefined);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private async deliver(id: string): Promise<void> {
    const { prisma } = this.o;
    const max = this.o.attempts ?? 5;
    let delivery = await prisma.webhookDelivery.findUnique({ where: { id } });
    if (!delivery || delivery.state !== 'PENDING') return;
    const secret = await this.o.secretFor(delivery.alertId);
    let backoff = this.o.minBackoffMs ?? 1000;
    while (!this.closed && delivery.attempts < max) {
      const attempt: number = delivery.attempts + 1;
      let status: number | null = null;
      let error: string | null = null;
      let forbidden = false;
      try {
        await this.policy.checkUrl(delivery.url);
        const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'sluice-webhook/1' };
        if (secret) headers[SIGNATURE_HEADER] = signWebhook(secret, delivery.body, Math.floor(Date.now() / 1000));
        const res = await undiciFetch(delivery.url, { method: 'POST', headers, body: delivery.body, signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000), redirect: 'manual', dispatcher: this.agent });
        const code = res.status;
        status = code;
        await res.arrayBuffer().catch(() => undefined);
        if (code >= 300 && code < 400) error = `answered HTTP ${code} (redirects are not followed)`;
        else if (code < 200 || code >= 300) error = `answered HTTP ${code}`;
      } catch (err) {
        const e = err as Error;
        const refusal = isForbiddenDestination(e) ? e : isForbiddenDestination(e.cause) ? e.cause : null;
        if (refusal) {
          forbidden = true;
          error = `${WEBHOOK_DESTINATION_FORBIDDEN}: ${refusal.message}`;
        } else error = e.name === 'TimeoutError' || e.name === 'AbortError' ? `timed out after ${this.o.timeoutMs ?? 10_000} ms` : `${e.message}${(e.cause as Error | undefined)?.message ? `: ${(e.cause as Error).message}` : ''}`;
      }
      const ok = error === null;
      // a forbidden destination will not become allowed by retrying
      const final = ok || forbidden || attempt >= max;
      delivery = await prisma.webhookDelivery.update({
        where: { id },
        data: { attempts: attempt, responseStatus: status, lastError: error, state: ok ? 'DELIVERED' : final ? 'FAILED' : 'PENDING', ...(ok ? { deliveredAt: new Date() } : {}) },
      });
      if (final) {
        this.o.onSettled?.(delivery.alertId);
        return;
      }
      await this.sleep(backoff);
      backoff = Math.min(this.o.maxBackoffMs ?? 60_000, backoff * 2);
    }
  }
}
