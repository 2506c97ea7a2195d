// The orchestrator port: how the lifecycle (control/domain) asks for version backends to
// run, and how it hears back. Implementations: local/ (child processes, the embedded
// default) and kubernetes/ (Deployments on GPU node pools). Orchestrators never touch the
// database: they report through `onReport`, and the domain layer turns reports into
// instance rows, events and status transitions.
import type { ModelSignature } from '../../platform/model-signature.ts';

export interface ResourceSpec {
  cpu: number; // cores
  memoryGiB: number;
  gpuType: string | null; // e.g. "T4", "A100"
  gpuCount: number;
}

export type BackendSource =
  | {
      kind: 'model';
      modelName: string;
      modelVersion: string;
      // a local file path the runtime can read (the orchestrator downloads from the store first)
      artifactUri: string;
      format: string; // "onnx"
      signature: ModelSignature;
    }
  | {
      kind: 'image';
      image: string;
      command: string[]; // locally: the process to run, with PORT in its env
      env: { name: string; value: string }[];
      port: number;
      // decrypted only for the orchestrator; never stored in plain text
      registryAuth: { username: string; password: string } | null;
    };

export interface DedicatedNodes {
  resourceGroupName: string;
  nodes: { name: string; cpu: number; memoryGiB: number; gpuType: string | null; gpuCount: number; state: string }[];
}

export interface VersionDeployment {
  versionId: string;
  groupName: string;
  versionName: string;
  replicas: number;
  source: BackendSource;
  resources: ResourceSpec;
  dedicated: DedicatedNodes | null;
  /** set: replicas follow load within these bounds (Kubernetes: a HorizontalPodAutoscaler; local: control/orchestrator/autoscaler.ts) */
  autoscaling?: AutoscalingSpec | null;
}

export interface AutoscalingSpec {
  minReplicas: number;
  maxReplicas: number;
  /** concurrent requests per replica */
  targetConcurrency: number | null;
  /** requests per second per replica */
  targetQps: number | null;
  cooldownSeconds: number;
}

export type InstanceStateName = 'WAITING' | 'RUNNING' | 'TERMINATING' | 'FAILED';

export interface InstanceReport {
  name: string;
  state: InstanceStateName;
  reason?: string;
  restartCount: number;
  host?: string;
  port?: number;
  pid?: number;
  node?: string;
  cpuMillicores?: number;
  memoryBytes?: number;
  startedAt?: Date;
}

export type OrchestratorReport =
  // the version as a whole, judged by domain/status.ts versionReadiness (RUNNING once at least
  // `replicas` replicas are ready, FAILED when one cannot run), STOPPED once gone
  | { type: 'version'; versionId: string; status: 'RUNNING' | 'FAILED' | 'STOPPED'; reason?: string }
  | { type: 'instance'; versionId: string; instance: InstanceReport }
  | { type: 'instanceRemoved'; versionId: string; name: string }
  | {
      type: 'event';
      versionId: string;
      level: 'NORMAL' | 'WARNING';
      resourceKind: string; // "Instance", "Version", "Pod", "Deployment"
      resourceName: string;
      reason: string; // "Scheduled", "Started", "Unhealthy", "BackOff", "Killing", ...
      message: string;
      /** occurrences this report stands for (a Kubernetes event's count can jump); default 1 */
      count?: number;
    };

export interface LogLine {
  time: Date;
  instance: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

/** An interactive shell in a replica (the terminal feature). */
export interface TerminalSession {
  /** true for a real terminal (keys echo, signals work); false for a shell over pipes */
  readonly tty: boolean;
  write(data: string): void;
  resize(cols: number, rows: number): void;
  onData(listener: (data: string) => void): void;
  onExit(listener: (code: number | null) => void): void;
  close(): void;
}

export interface Orchestrator {
  readonly kind: 'local' | 'kubernetes' | 'test';
  /**
   * Whether an image version's command runs isolated from the control plane (a container,
   * or an unprivileged user without access to the data dir). Where not (absent = not),
   * giving a version a command is an admin right: it would run with the control plane's rights.
   */
  readonly isolatesCommands?: boolean;
  /**
   * Whether an image version without a command runs the image's own entrypoint (a container).
   * Where not (absent = not: the local orchestrator runs the command as a process), an image
   * version needs a command, and one without is refused when it is added or edited.
   */
  readonly runsImageEntrypoint?: boolean;
  /** Start or re-scale a version. Idempotent; progress arrives through reports. */
  deploy(deployment: VersionDeployment): Promise<void>;
  /** Stop every replica of a version (graceful, then forced). A 'version' STOPPED report follows. */
  stop(versionId: string): Promise<void>;
  restartInstance(versionId: string, instanceName: string): Promise<void>;
  logs(versionId: string, options?: { instance?: string; sinceMs?: number; limit?: number }): Promise<LogLine[]>;
  openTerminal(versionId: string, instanceName: string): Promise<TerminalSession>;
  onReport(listener: (report: OrchestratorReport) => void): () => void;
  /** Forget or adopt what a previous control-plane process left running. */
  reconcile(wanted: VersionDeployment[]): Promise<void>;
  close(): Promise<void>;
}
