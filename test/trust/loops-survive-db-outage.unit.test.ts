// Background loops of the control plane whose pass reads the database: with PostgreSQL down
// (found by the PostgreSQL drill) a pass rejects, and a rejection left unhandled in a timer
// took the whole control plane down (Node exits on an unhandled rejection). Each loop must
// report the failure and try again on its next tick. The database here is a stand-in whose
// every query rejects as pg does when the server stops answering.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogDelivery } from '../../control/logs/delivery.ts';
import { LogStore } from '../../control/logs/store.ts';
import { InferenceScheduler } from '../../control/inference/scheduler.ts';
import type { PrismaClient } from '../../platform/db/index.ts';

const down = () => Promise.reject(new Error('Query read timeout'));
const deadDb = { serviceVersion: { findMany: down }, inferenceSchedule: { findMany: down } } as unknown as PrismaClient;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('loops survive the database being down', () => {
  it('log delivery: each failed pass is reported, none escapes as an unhandled rejection', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sluice-delivery-'));
    try {
      const store = new LogStore({ root });
      store.append('v1', [{ time: new Date(), instance: 'i', stream: 'stdout', line: 'x' }]);
      const errors: unknown[] = [];
      const delivery = new LogDelivery({ store, objects: {} as never, prisma: deadDb, intervalMs: 20, onError: (_v, e) => errors.push(e) });
      delivery.start();
      await sleep(200);
      expect(errors.length).toBeGreaterThanOrEqual(2); // and it kept trying
      expect(String(errors[0])).toMatch(/Query read timeout/);
      await delivery.stop().catch(() => undefined); // the last pass fails too: the caller sees it
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('inference table scheduler: each failed tick is reported, none escapes as an unhandled rejection', async () => {
    const errors: unknown[] = [];
    const scheduler = new InferenceScheduler({ prisma: deadDb, service: {} as never, defaultIntervalSeconds: 60, tickMs: 20, onError: (_g, e) => errors.push(e) });
    scheduler.start();
    await sleep(200);
    await scheduler.close();
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(String(errors[0])).toMatch(/Query read timeout/);
  });
});
