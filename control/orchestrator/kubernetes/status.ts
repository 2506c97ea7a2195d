// What the cluster says, in Sluice's words (pure): a Pod becomes an instance report, a core
// Event an event report, EndpointSlices the ready addresses, metrics-server quantities
// millicores and bytes.

import type { CoreV1Event, V1EndpointSlice, V1Pod } from '@kubernetes/client-node';
import type { InstanceReport, InstanceStateName } from '../port.ts';
import { ANNOTATION_VERSION_ID, LABEL_VERSION_ID } from './manifests.ts';

/** Waiting reasons that mean the pod will not serve without someone changing something. */
const FAILING_WAIT_REASONS = new Set([
  'CrashLoopBackOff',
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

export function podVersionId(pod: V1Pod): string | undefined {
  return pod.metadata?.annotations?.[ANNOTATION_VERSION_ID] ?? pod.metadata?.labels?.[LABEL_VERSION_ID];
}

export function podState(pod: V1Pod): { state: InstanceStateName; reason?: string } {
  if (pod.metadata?.deletionTimestamp) return { state: 'TERMINATING', reason: 'Terminating' };
  const phase = pod.status?.phase;
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const s of statuses) {
    const waiting = s.state?.waiting;
    if (waiting?.reason && FAILING_WAIT_REASONS.has(waiting.reason)) {
      const last = s.lastState?.terminated;
      const detail = last ? `exit code ${last.exitCode}${last.reason ? ` (${last.reason})` : ''}` : waiting.message;
      return { state: 'FAILED', reason: `${waiting.reason}${detail ? `: ${detail}` : ''}` };
    }
  }
  if (phase === 'Failed' || phase === 'Succeeded') {
    return { state: 'FAILED', reason: pod.status?.reason ?? pod.status?.message ?? `pod ${phase}` };
  }
  const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  if (phase === 'Running' && ready) return { state: 'RUNNING' };
  const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (unscheduled) return { state: 'WAITING', reason: unscheduled.reason ?? 'Unschedulable' };
  const waiting = statuses.find((s) => s.state?.waiting?.reason)?.state?.waiting?.reason;
  return { state: 'WAITING', reason: waiting ?? (phase === 'Running' ? 'NotReady' : phase ?? 'Pending') };
}

export interface ReadyEndpoint {
  host: string;
  port: number;
}

/** Ready endpoints by pod name, from the EndpointSlices of the Sluice Services. */
export function readyEndpoints(slices: readonly V1EndpointSlice[]): Map<string, ReadyEndpoint> {
  const byPod = new Map<string, ReadyEndpoint>();
  for (const slice of slices) {
    const port = slice.ports?.find((p) => p.name === 'http')?.port ?? slice.ports?.[0]?.port;
    if (port === undefined || port === null) continue;
    for (const ep of slice.endpoints ?? []) {
      const pod = ep.targetRef?.kind === 'Pod' ? ep.targetRef.name : undefined;
      const host = ep.addresses?.[0];
      if (!pod || !host || ep.conditions?.ready === false) continue;
      byPod.set(pod, { host, port });
    }
  }
  return byPod;
}

export function podReport(
  pod: V1Pod,
  endpoint: ReadyEndpoint | undefined,
  usage: { cpuMillicores?: number; memoryBytes?: number } | undefined,
): InstanceReport {
  const { state, reason } = podState(pod);
  const restartCount = (pod.status?.containerStatuses ?? []).reduce((n, s) => n + (s.restartCount ?? 0), 0);
  const containerPort = pod.spec?.containers?.[0]?.ports?.find((p) => p.name === 'http')?.containerPort;
  const host = endpoint?.host ?? pod.status?.podIP;
  const port = endpoint?.port ?? containerPort;
  const started = pod.status?.startTime;
  return {
    name: pod.metadata?.name ?? '',
    state,
    ...(reason !== undefined ? { reason } : {}),
    restartCount,
    ...(host ? { host } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
    ...(started ? { startedAt: new Date(started) } : {}),
    ...(usage ?? {}),
  };
}

export function eventTime(e: CoreV1Event): number {
  const t = e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp;
  return t ? new Date(t).getTime() : 0;
}

/**
 * How many times the event has happened. Events written through the events.k8s.io API (the
 * scheduler's, for one) count repeats in `series.count` and leave the old `count` unset.
 */
export function eventCount(e: CoreV1Event): number {
  return Math.max(1, e.count ?? 0, e.series?.count ?? 0);
}

/** "250m" → 250, "1" → 1000, "1234567n" → 1.23 (millicores). */
export function parseCpu(q: string): number {
  const m = /^([0-9.]+)([numk]?)$/.exec(q.trim());
  if (!m) return 0;
  const v = Number(m[1]);
  switch (m[2]) {
    case 'n':
      return v / 1e6;
    case 'u':
      return v / 1e3;
    case 'm':
      return v;
    case 'k':
      return v * 1e6;
    default:
      return v * 1000;
  }
}

const MEMORY_UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

export function parseMemory(q: string): number {
  const m = /^([0-9.]+)([kMGT]i?|Ki)?$/.exec(q.trim());
  if (!m) return 0;
  return Math.round(Number(m[1]) * (MEMORY_UNITS[m[2] ?? ''] ?? 1));
}
