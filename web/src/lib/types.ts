// The shapes the dashboard reads from the GraphQL API (the subset of each type it selects).
export type Status = 'DRAFT' | 'STARTING' | 'RUNNING' | 'STOPPING' | 'STOPPED' | 'FAILED';

export interface GroupRow {
  id: string;
  name: string;
  type: 'MODEL_SERVICE' | 'ML_SERVICE';
  status: Status;
  description: string | null;
  creator: string | null;
  createdAt: string;
  runningVersions: number;
  totalVersions: number;
  callAddress: string;
}

export interface Instance {
  id: string;
  name: string;
  state: 'WAITING' | 'RUNNING' | 'TERMINATING' | 'FAILED';
  stateReason: string | null;
  restartCount: number;
  node: string | null;
  cpuMillicores: number | null;
  memoryBytes: number | null;
  startedAt: string | null;
}

export interface Version {
  id: string;
  name: string;
  description: string | null;
  status: Status;
  statusReason: string | null;
  trafficPercent: number;
  replicas: number;
  qpsLimit: number | null;
  authEnabled: boolean;
  creator: string | null;
  updatedAt: string;
  modelSource: 'REGISTRY' | 'MLFLOW' | 'IMAGE';
  model: { name: string; version: string } | null;
  image: { image: string } | null;
  resourceSource: 'SHARED_POOL' | 'DEDICATED';
  resources: { label: string | null } | null;
  resourceGroup: { name: string } | null;
  runningInstances: number;
  instances: Instance[];
}

export interface GroupDetail extends GroupRow {
  updatedAt: string;
  versions: Version[];
}

export interface ApiKey {
  id: string;
  name: string | null;
  prefix: string;
  versionId: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revoked: boolean;
}

export interface EventRow {
  id: string;
  level: 'NORMAL' | 'WARNING';
  resourceKind: string;
  resourceName: string;
  reason: string;
  message: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
}

export interface ProxyStatus {
  nodeId: string;
  connectedAt: string | null;
  synced: boolean;
  types: { typeUrl: string; ackedVersion: string | null; nackedVersion: string | null; nackError: string | null }[];
}

export interface RegisteredModel {
  name: string;
  versions: { version: string }[];
}
