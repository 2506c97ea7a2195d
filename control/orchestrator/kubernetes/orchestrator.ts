// The Kubernetes orchestrator: applies each version's manifests with server-side apply
// (idempotent create-or-update; scaling is the same call with new replicas), deletes them on
// stop, and turns what the cluster reports — Pods, Events, EndpointSlices, pod metrics —
// into orchestrator reports through informers (list + watch). Logs and the terminal go
// through the pod log and exec endpoints.

import { PassThrough, Writable } from 'node:stream';
import {
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  Exec,
  KubeConfig,
  KubernetesObjectApi,
  Metrics,
  PatchStrategy,
  makeInformer,
  type CoreV1Event,
  type Informer,
  type KubernetesObject,
  type ObjectCache,
  type V1EndpointSlice,
  type V1Pod,
} from '@kubernetes/client-node';
import { notFound, SluiceError } from '../../../platform/errors.ts';
import type { LogLine, Orchestrator, OrchestratorReport, TerminalSession, VersionDeployment } from '../port.ts';
import {
  ANNOTATION_VERSION_ID,
  defaultManifestOptions,
  LABEL_VERSION_ID,
  MANAGED_SELECTOR,
  orderedObjects,
  renderManifests,
  resourceName,
  type ManifestOptions,
} from './manifests.ts';
import { eventCount, eventTime, parseCpu, parseMemory, podReport, podState, podVersionId, readyEndpoints } from './status.ts';
import { versionReadiness } from '../../domain/status.ts';

export interface KubernetesOrchestratorOptions extends Partial<ManifestOptions> {
  /** default: loaded the way kubectl does (KUBECONFIG, ~/.kube/config, in-cluster) */
  kubeConfig?: KubeConfig;
  clock?: { now(): Date };
  /** pod metrics from metrics-server, every this many ms (0 turns it off; default 30 s) */
  metricsPeriodMs?: number;
  /** how long an informer waits before re-listing after an error (default 2 s) */
  rewatchDelayMs?: number;
}

/** A request the API server refused, with its HTTP status, kept as a typed error. */
export class KubernetesApiError extends SluiceError {
  constructor(action: string, status: number | undefined, body: string) {
    super('INTERNAL', `Kubernetes API ${action} failed${status ? ` (${status})` : ''}: ${body.slice(0, 300)}`, { status });
    this.name = 'KubernetesApiError';
  }
}

interface Tracked {
  deployment: VersionDeployment;
  name: string;
  lastStatus: 'RUNNING' | 'FAILED' | null;
  stopping: boolean;
}

type Entry<T> = Informer<T & KubernetesObject> & ObjectCache<T & KubernetesObject>;

/** The most reports one update of a Kubernetes Event turns into (see onEvent). */

export function createKubernetesOrchestrator(options: KubernetesOrchestratorOptions = {}): Orchestrator {
  const kc = options.kubeConfig ?? loadDefault();
  const manifestOptions = defaultManifestOptions(stripUndefined(options));
  const ns = manifestOptions.namespace;
  const now = () => (options.clock ?? { now: () => new Date() }).now();
  const startedAt = now().getTime();
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);

  const listeners = new Set<(r: OrchestratorReport) => void>();
  const tracked = new Map<string, Tracked>();
  const reported = new Map<string, string>(); // pod name → last report JSON (skip repeats)
  const podVersion = new Map<string, string>(); // pod name → versionId (kept after deletion for events)
  const usage = new Map<string, { cpuMillicores: number; memoryBytes: number }>();
  let closed = false;

  const emit = (r: OrchestratorReport) => {
    for (const l of listeners) {
      try {
        l(r);
      } catch {
        // a failing listener must not stop the watches
      }
    }
  };

  // ───────────────────────── informers ─────────────────────────

  const pods = makeInformer<V1Pod>(
    kc,
    `/api/v1/namespaces/${ns}/pods`,
    () => core.listNamespacedPod({ namespace: ns, labelSelector: MANAGED_SELECTOR }),
    MANAGED_SELECTOR,
  );
  const slices = makeInformer<V1EndpointSlice>(
    kc,
    `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
    () => discovery.listNamespacedEndpointSlice({ namespace: ns, labelSelector: MANAGED_SELECTOR }),
    MANAGED_SELECTOR,
  );
  const events = makeInformer<CoreV1Event>(kc, `/api/v1/namespaces/${ns}/events`, () => core.listNamespacedEvent({ namespace: ns }));
  const informers: Entry<unknown>[] = [pods, slices, events] as Entry<unknown>[];

  function versionPods(versionId: string): V1Pod[] {
    return pods.list(ns).filter((p) => podVersionId(p) === versionId);
  }

  function reportPod(pod: V1Pod): void {
    const versionId = podVersionId(pod);
    const name = pod.metadata?.name;
    if (!versionId || !name) return;
    podVersion.set(name, versionId);
    if (podVersion.size > 10_000) podVersion.delete(podVersion.keys().next().value as string);
    const endpoints = readyEndpoints(slices.list(ns));
    const instance = podReport(pod, endpoints.get(name), usage.get(name));
    const key = JSON.stringify(instance);
    if (reported.get(name) === key) return;
    reported.set(name, key);
    emit({ type: 'instance', versionId, instance });
    evaluate(versionId);
  }

  function evaluate(versionId: string): void {
    const t = tracked.get(versionId);
    if (!t) return;
    const current = versionPods(versionId);
    if (t.stopping) {
      if (current.length === 0) {
        tracked.delete(versionId);
        emit({ type: 'version', versionId, status: 'STOPPED' });
      }
      return;
    }
    const verdict = versionReadiness(
      t.deployment.replicas,
      current.map((p) => ({ name: p.metadata?.name ?? '', ...podState(p) })),
    );
    if (verdict && verdict.status !== t.lastStatus) {
      t.lastStatus = verdict.status;
      emit({ type: 'version', versionId, ...verdict });
    }
  }

  pods.on('add', reportPod);
  pods.on('update', reportPod);
  pods.on('delete', (pod) => {
    const name = pod.metadata?.name;
    const versionId = podVersionId(pod);
    if (!name || !versionId) return;
    reported.delete(name);
    usage.delete(name);
    emit({ type: 'instanceRemoved', versionId, name });
    evaluate(versionId);
  });
  // A change of endpoints changes the host/port (and readiness) of the pods it names.
  const onSlice = (slice: V1EndpointSlice) => {
    for (const ep of slice.endpoints ?? []) {
      const podName = ep.targetRef?.name;
      const pod = podName ? pods.get(podName, ns) : undefined;
      if (pod) reportPod(pod);
    }
  };
  slices.on('add', onSlice);
  slices.on('update', onSlice);
  slices.on('delete', onSlice);

  const seenEvents = new Map<string, number>(); // event uid → count already reported
  const onEvent = (e: CoreV1Event) => {
    const obj = e.involvedObject;
    const versionId = versionOfObject(obj.kind ?? '', obj.name ?? '');
    if (!versionId) return;
    const uid = e.metadata?.uid ?? `${obj.kind}/${obj.name}/${e.reason}/${e.message}`;
    const count = eventCount(e);
    const seen = seenEvents.get(uid);
    // Events from before this control plane started were reported by the previous one.
    if (seen === undefined && eventTime(e) < startedAt - 1000) {
      seenEvents.set(uid, count);
      return;
    }
    if (seen !== undefined && seen >= count) return;
    seenEvents.set(uid, count);
    if (seenEvents.size > 10_000) seenEvents.delete(seenEvents.keys().next().value as string);
    // A count that jumped (updates coalesced by the API server, or a re-list after a dropped
    // watch) is reported in full, as one report carrying the number of new occurrences.
    const occurrences = seen === undefined ? count : count - seen;
    const report: OrchestratorReport = {
      type: 'event',
      versionId,
      level: e.type === 'Warning' ? 'WARNING' : 'NORMAL',
      resourceKind: obj.kind ?? 'Unknown',
      resourceName: obj.name ?? '',
      reason: e.reason ?? '',
      message: e.message ?? '',
      count: occurrences,
    };
    emit(report);
  };
  events.on('add', onEvent);
  events.on('update', onEvent);

  function versionOfObject(kind: string, name: string): string | undefined {
    if (kind === 'Pod') {
      const known = podVersion.get(name) ?? (pods.get(name, ns) ? podVersionId(pods.get(name, ns) as V1Pod) : undefined);
      if (known) return known;
    }
    for (const [id, t] of tracked) {
      const rest = name.startsWith(`${t.name}-`) ? name.slice(t.name.length + 1) : null;
      if (kind === 'Deployment' && name === t.name) return id;
      // ReplicaSets are named {deployment}-{pod-template-hash}.
      if (kind === 'ReplicaSet' && rest !== null && !rest.includes('-')) return id;
      // Pods are {deployment}-{pod-template-hash}-{suffix}. The pod and event watches are
      // separate streams: the scheduler's first event about a new pod can arrive before the
      // pod does, and would otherwise be lost.
      if (kind === 'Pod' && rest !== null && /^[a-z0-9]+-[a-z0-9]+$/.test(rest)) return id;
    }
    return undefined;
  }

  for (const inf of informers) {
    inf.on('error', () => {
      if (closed) return;
      setTimeout(() => {
        if (!closed) void inf.start().catch(() => undefined);
      }, options.rewatchDelayMs ?? 2_000).unref();
    });
  }
  const started = Promise.all(informers.map((i) => i.start().catch(() => undefined)));

  // ───────────────────────── metrics ─────────────────────────

  const metricsPeriod = options.metricsPeriodMs ?? 30_000;
  const metrics = new Metrics(kc);
  const metricsTimer =
    metricsPeriod > 0
      ? setInterval(() => {
          void metrics
            .getPodMetrics(ns)
            .then((list) => {
              for (const item of list.items) {
                const name = item.metadata.name;
                const cpu = item.containers.reduce((n, c) => n + parseCpu(c.usage.cpu), 0);
                const mem = item.containers.reduce((n, c) => n + parseMemory(c.usage.memory), 0);
                usage.set(name, { cpuMillicores: Math.round(cpu), memoryBytes: mem });
                const pod = pods.get(name, ns);
                if (pod) reportPod(pod);
              }
            })
            .catch(() => undefined); // no metrics-server: instances carry no figures
        }, metricsPeriod)
      : null;
  metricsTimer?.unref();

  // ───────────────────────── API calls ─────────────────────────

  async function call<T>(action: string, fn: () => Promise<T>, okStatuses: number[] = []): Promise<T | null> {
    try {
      return await fn();
    } catch (err) {
      const e = err as { code?: number; body?: unknown; message?: string };
      if (e.code !== undefined && okStatuses.includes(e.code)) return null;
      throw new KubernetesApiError(action, e.code, typeof e.body === 'string' ? e.body : (e.message ?? String(err)));
    }
  }

  async function apply(obj: KubernetesObject): Promise<void> {
    await call(`apply ${obj.kind} ${obj.metadata?.name}`, () =>
      objects.patch(obj, undefined, undefined, 'sluice', true, PatchStrategy.ServerSideApply),
    );
  }

  async function deleteObject(kind: string, apiVersion: string, name: string): Promise<void> {
    await call(
      `delete ${kind} ${name}`,
      () => objects.delete({ apiVersion, kind, metadata: { name, namespace: ns } }, undefined, undefined, undefined, undefined, 'Background'),
      [404],
    );
  }

  async function deleteVersionObjects(name: string, keep: { configMap?: boolean; pullSecret?: boolean } = {}): Promise<void> {
    await deleteObject('Deployment', 'apps/v1', name);
    await deleteObject('Service', 'v1', name);
    if (!keep.configMap) await deleteObject('ConfigMap', 'v1', `${name}-signature`);
    if (!keep.pullSecret) await deleteObject('Secret', 'v1', `${name}-pull`);
  }

  const orchestrator: Orchestrator = {
    kind: 'kubernetes',
    // every command runs in its own container, never in the control plane's process or files
    isolatesCommands: true,
    // an image without a command runs its own ENTRYPOINT/CMD
    runsImageEntrypoint: true,

    async deploy(d: VersionDeployment): Promise<void> {
      const m = renderManifests(d, manifestOptions);
      const name = resourceName(d.groupName, d.versionName);
      const prev = tracked.get(d.versionId);
      tracked.set(d.versionId, { deployment: d, name, lastStatus: prev && prev.deployment.replicas === d.replicas ? prev.lastStatus : null, stopping: false });
      for (const obj of orderedObjects(m)) await apply(obj);
      // Credentials or a signature that the new spec no longer needs must not linger.
      if (!m.pullSecret) await deleteObject('Secret', 'v1', `${name}-pull`);
      if (!m.configMap) await deleteObject('ConfigMap', 'v1', `${name}-signature`);
      await started;
      evaluate(d.versionId);
    },

    async stop(versionId: string): Promise<void> {
      let t = tracked.get(versionId);
      if (!t) {
        const found = await findDeployments(versionId);
        const first = found[0];
        if (first) {
          t = { deployment: deploymentStub(versionId), name: first, lastStatus: null, stopping: true };
          tracked.set(versionId, t);
        }
      }
      if (!t) {
        emit({ type: 'version', versionId, status: 'STOPPED' });
        return;
      }
      t.stopping = true;
      await deleteVersionObjects(t.name);
      await started;
      evaluate(versionId);
    },

    async restartInstance(versionId: string, instanceName: string): Promise<void> {
      const pod = pods.get(instanceName, ns);
      if (!pod || podVersionId(pod) !== versionId) throw notFound(`no instance ${instanceName} in this version`);
      // Deleting the pod is the Kubernetes restart: the Deployment replaces it.
      await call(`delete pod ${instanceName}`, () => core.deleteNamespacedPod({ name: instanceName, namespace: ns }), [404]);
    },

    async logs(versionId: string, opts: { instance?: string; sinceMs?: number; limit?: number } = {}): Promise<LogLine[]> {
      const targets = versionPods(versionId).filter((p) => opts.instance === undefined || p.metadata?.name === opts.instance);
      if (opts.instance !== undefined && targets.length === 0) throw notFound(`no instance ${opts.instance} in this version`);
      const all: LogLine[] = [];
      for (const pod of targets) {
        const name = pod.metadata?.name as string;
        const container = pod.spec?.containers?.[0]?.name;
        const text = await call(
          `logs of ${name}`,
          () =>
            core.readNamespacedPodLog({
              name,
              namespace: ns,
              ...(container ? { container } : {}),
              timestamps: true,
              ...(opts.limit !== undefined ? { tailLines: opts.limit } : {}),
              ...(opts.sinceMs !== undefined ? { sinceSeconds: Math.max(1, Math.ceil(opts.sinceMs / 1000)) } : {}),
            }),
          [400, 404],
        );
        for (const raw of (text ?? '').split('\n')) {
          if (!raw) continue;
          const space = raw.indexOf(' ');
          const time = new Date(raw.slice(0, space));
          const ok = space > 0 && !Number.isNaN(time.getTime());
          // The kubelet merges stdout and stderr; the stream is not known here.
          all.push({ time: ok ? time : now(), instance: name, stream: 'stdout', line: ok ? raw.slice(space + 1) : raw });
        }
      }
      all.sort((a, b) => a.time.getTime() - b.time.getTime());
      return opts.limit !== undefined ? all.slice(-opts.limit) : all;
    },

    async openTerminal(versionId: string, instanceName: string): Promise<TerminalSession> {
      const pod = pods.get(instanceName, ns);
      if (!pod || podVersionId(pod) !== versionId) throw notFound(`no instance ${instanceName} in this version`);
      return openExec(kc, ns, instanceName, pod.spec?.containers?.[0]?.name ?? '');
    },

    onReport(listener: (r: OrchestratorReport) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    async reconcile(wanted: VersionDeployment[]): Promise<void> {
      const ids = new Set(wanted.map((d) => d.versionId));
      const list = await call('list deployments', () => apps.listNamespacedDeployment({ namespace: ns, labelSelector: MANAGED_SELECTOR }));
      for (const dep of list?.items ?? []) {
        const id = dep.metadata?.annotations?.[ANNOTATION_VERSION_ID] ?? dep.metadata?.labels?.[LABEL_VERSION_ID];
        const name = dep.metadata?.name;
        if (!name || (id && ids.has(id))) continue;
        if (id) tracked.set(id, { deployment: deploymentStub(id), name, lastStatus: null, stopping: true });
        await deleteVersionObjects(name);
      }
      // Server-side apply is idempotent: the wanted ones are adopted as they are, or updated.
      for (const d of wanted) await orchestrator.deploy(d);
    },

    async close(): Promise<void> {
      closed = true;
      if (metricsTimer) clearInterval(metricsTimer);
      await Promise.all(informers.map((i) => i.stop()));
      listeners.clear();
    },
  };

  async function findDeployments(versionId: string): Promise<string[]> {
    const list = await call('list deployments', () => apps.listNamespacedDeployment({ namespace: ns, labelSelector: MANAGED_SELECTOR }));
    return (list?.items ?? [])
      .filter((d) => (d.metadata?.annotations?.[ANNOTATION_VERSION_ID] ?? d.metadata?.labels?.[LABEL_VERSION_ID]) === versionId)
      .map((d) => d.metadata?.name ?? '')
      .filter(Boolean);
  }

  return orchestrator;
}

function loadDefault(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

function stripUndefined<T extends object>(o: T): Partial<ManifestOptions> {
  const out: Record<string, unknown> = {};
  for (const key of ['namespace', 'runtimeImage', 'runtimePort', 'gpuNodeLabel', 'imageProbes', 'modelFetch', 'terminationGracePeriodSeconds', 'objectStoreUri']) {
    const v = (o as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = v;
  }
  return out as Partial<ManifestOptions>;
}

/** What stop() knows of a version it did not deploy in this process (only its id matters then). */
function deploymentStub(versionId: string): VersionDeployment {
  return {
    versionId,
    groupName: '',
    versionName: '',
    replicas: 0,
    source: { kind: 'image', image: '', command: [], env: [], port: 0, registryAuth: null },
    resources: { cpu: 0, memoryGiB: 0, gpuType: null, gpuCount: 0 },
    dedicated: null,
  };
}

/** An interactive shell in the pod over the exec WebSocket (v4 channel protocol, tty on). */
async function openExec(kc: KubeConfig, ns: string, pod: string, container: string): Promise<TerminalSession> {
  const stdin = new PassThrough();
  const dataListeners: ((d: string) => void)[] = [];
  const exitListeners: ((code: number | null) => void)[] = [];
  let exitCode: number | null | undefined;
  const finish = (code: number | null) => {
    if (exitCode !== undefined) return;
    exitCode = code;
    for (const l of exitListeners) l(code);
  };
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const text = chunk.toString('utf8');
      for (const l of dataListeners) l(text);
      cb();
    },
  });
  const ws = await new Exec(kc).exec(ns, pod, container, ['/bin/sh', '-c', 'command -v bash >/dev/null && exec bash -i || exec sh -i'], sink, sink, stdin, true, (status) => {
    const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
    finish(status.status === 'Success' ? 0 : cause?.message !== undefined ? Number(cause.message) : null);
  });
  ws.on('close', () => finish(exitCode ?? null));
  return {
    tty: true,
    write(data: string) {
      if (exitCode === undefined) stdin.write(data);
    },
    resize(cols: number, rows: number) {
      // Channel 4 carries the terminal size.
      if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([4]), Buffer.from(JSON.stringify({ Width: cols, Height: rows }))]));
    },
    onData(l) {
      dataListeners.push(l);
    },
    onExit(l) {
      if (exitCode !== undefined) l(exitCode);
      else exitListeners.push(l);
    },
    close() {
      stdin.end();
      ws.close();
    },
  };
}
