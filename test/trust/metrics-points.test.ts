// A signed-in viewer's metrics query cannot take the control plane down. The cost model costs
// a series' points as a short list, but a series holds window ÷ step points: ten aliases of a
// 15-day, one-minute query for every metric — 3.2 million points — ran the process out of
// memory, and one alias held it for half a minute. Points are now counted per operation
// before anything is read; the dashboard asks a long window in several operations that fit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';
import { MAX_POINTS_PER_OPERATION, METRIC_NAMES } from '../../control/monitoring/reader.ts';

const ALL = METRIC_NAMES.join(' ');

describe('metric points per operation', () => {
  let cp: TestControlPlane;
  let groupId: string;

  beforeAll(async () => {
    cp = await startTestControlPlane({ provider: 'sqlite' });
    const g = await cp.gql<{ createServiceGroup: { id: string } }>(`mutation { createServiceGroup(input: { name: "points", type: MODEL_SERVICE }) { id } }`);
    groupId = g.data!.createServiceGroup.id;
  });
  afterAll(async () => {
    await cp?.close();
  });

  it('refuses ten aliases of 15 days at one minute for every metric before reading anything', async () => {
    const query = `{ ${Array.from({ length: 10 }, (_, i) => `a${i}: metrics(groupId: "${groupId}", names: [${ALL}], range: LAST_15D, step: ONE_MINUTE) { name points { t v } }`).join(' ')} }`;
    const r = await cp.gql(query);
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'TOO_MANY_POINTS', limit: MAX_POINTS_PER_OPERATION });
    // and the control plane is still there
    expect((await cp.gql(`{ serviceGroup(id: "${groupId}") { name } }`)).data).toEqual({ serviceGroup: { name: 'points' } });
  });

  it('counts aliases together, whatever the window comes in (variables too)', async () => {
    // 15 days at five minutes is 4 321 steps: five metrics (21 605 points) fit, two aliases of them do not
    const five = METRIC_NAMES.slice(0, 5).join(' ');
    const one = await cp.gql(`query($r: TimeRange) { metrics(groupId: "${groupId}", names: [${five}], range: $r) { name } }`, { r: 'LAST_15D' });
    expect(one.errors).toBeUndefined();
    const two = await cp.gql(`query($r: TimeRange) { a: metrics(groupId: "${groupId}", names: [${five}], range: $r) { name } b: metrics(groupId: "${groupId}", names: [${five}], range: $r) { name } }`, { r: 'LAST_15D' });
    expect(two.errors?.[0]?.extensions).toMatchObject({ reason: 'TOO_MANY_POINTS' });
  });

  it('says in a refusal how many points each series has, so a client can split its names into operations that fit', async () => {
    const r = await cp.gql(`{ metrics(groupId: "${groupId}", names: [${ALL}], range: LAST_7D, step: ONE_MINUTE) { name } }`);
    const details = r.errors?.[0]?.extensions as { limit: number; pointsPerSeries: number };
    expect(details).toMatchObject({ reason: 'TOO_MANY_POINTS', limit: MAX_POINTS_PER_OPERATION });
    // 7 days at one minute: 10,080 minutes, and the steps the window's edges cut into
    expect(details.pointsPerSeries).toBeGreaterThanOrEqual(10_080);
    expect(details.pointsPerSeries).toBeLessThanOrEqual(10_082);
    const perOperation = Math.floor(details.limit / details.pointsPerSeries);
    for (let i = 0; i < METRIC_NAMES.length; i += perOperation) {
      const part = await cp.gql(`{ metrics(groupId: "${groupId}", names: [${METRIC_NAMES.slice(i, i + perOperation).join(' ')}], range: LAST_7D, step: ONE_MINUTE) { name } }`);
      expect(part.errors).toBeUndefined();
    }
  });

  it("answers the dashboard's largest preset view in the requests it splits it into, again and again (the count is per operation)", async () => {
    // 15 days at five minutes for all 15 metrics, five at a time (what the refusal's pointsPerSeries gives: 25,000 / 4,321)
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < METRIC_NAMES.length; i += 5) {
        const r = await cp.gql<{ metrics: { points: unknown[] }[] }>(`{ metrics(groupId: "${groupId}", names: [${METRIC_NAMES.slice(i, i + 5).join(' ')}], range: LAST_15D) { name points { t v } } }`);
        expect(r.errors).toBeUndefined();
        expect(r.data!.metrics).toHaveLength(5);
        expect(r.data!.metrics[0]!.points.length).toBeGreaterThan(4_000);
      }
    }
  });
});
