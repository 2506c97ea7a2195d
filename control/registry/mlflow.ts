// A client for an MLflow tracking server's model registry REST API (2.0): registered
// models, model versions, aliases, download URIs, search, and the tracking server's
// artifact proxy (`mlflow-artifacts:` URIs). Every failure is an MlflowError with a stable
// code, so callers branch on `code` rather than on HTTP statuses or MLflow's strings.
// Credentials (a bearer token, or basic auth as MLflow's own client sends them) go in the
// Authorization header and nowhere else: never in errors or logs.
import { loadSettings } from '../../platform/settings.ts';
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { z } from 'zod';
import { SluiceError } from '../../platform/errors.ts';

export type MlflowErrorCode =
  | 'NOT_FOUND' // RESOURCE_DOES_NOT_EXIST, or 404
  | 'BAD_USER_INPUT' // INVALID_PARAMETER_VALUE and other 400s
  | 'UNAUTHENTICATED' // 401
  | 'FORBIDDEN' // 403, PERMISSION_DENIED
  | 'UNAVAILABLE' // the server could not be reached, or timed out, or 502–504
  | 'UPSTREAM_ERROR' // any other error answer from the server
  | 'INVALID_RESPONSE' // a 200 whose body is not what the API promises
  | 'UNSUPPORTED_ARTIFACT_URI'; // artifacts kept where this client cannot fetch them

export class MlflowError extends Error {
  readonly code: MlflowErrorCode;
  /** HTTP status of the server's answer, when there was one. */
  readonly status: number | undefined;
  /** MLflow's own `error_code` (e.g. RESOURCE_DOES_NOT_EXIST), when it sent one. */
  readonly mlflowErrorCode: string | undefined;

  constructor(code: MlflowErrorCode, message: string, options: { status?: number; mlflowErrorCode?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'MlflowError';
    this.code = code;
    this.status = options.status;
    this.mlflowErrorCode = options.mlflowErrorCode;
  }

  /** The same failure in the control plane's error vocabulary (GraphQL extensions.code). */
  toSluiceError(): SluiceError {
    const code =
      this.code === 'NOT_FOUND' || this.code === 'BAD_USER_INPUT' || this.code === 'FORBIDDEN' || this.code === 'UNAUTHENTICATED'
        ? this.code
        : this.code === 'UNSUPPORTED_ARTIFACT_URI'
          ? 'BAD_USER_INPUT'
          : 'INTERNAL';
    return new SluiceError(code, `MLflow: ${this.message}`, { mlflowCode: this.code });
  }
}

export interface ModelVersionInfo {
  name: string;
  version: string;
  description: string;
  /** Artifact location recorded at registration (often a runs:/ or storage URI). */
  source: string;
  runId: string | null;
  /** READY, PENDING_REGISTRATION, FAILED_REGISTRATION */
  status: string;
  statusMessage: string | null;
  /** Legacy stages: None, Staging, Production, Archived */
  currentStage: string;
  creationTimestamp: number | null;
  lastUpdatedTimestamp: number | null;
  tags: Record<string, string>;
  aliases: string[];
}

export interface RegisteredModelInfo {
  name: string;
  description: string;
  creationTimestamp: number | null;
  lastUpdatedTimestamp: number | null;
  latestVersions: ModelVersionInfo[];
  tags: Record<string, string>;
  /** alias → version */
  aliases: Record<string, string>;
}

export interface SearchOptions {
  /** MLflow's filter syntax, e.g. `name LIKE 'wine%'` or `name='wine-classifier'` */
  filter?: string;
  maxResults?: number;
  orderBy?: string[];
  pageToken?: string;
}

export interface Page<T> {
  items: T[];
  nextPageToken: string | null;
}

export interface ArtifactFile {
  /** path relative to the listed directory */
  path: string;
  isDir: boolean;
  fileSize: number | null;
}

export interface MlflowClientOptions {
  /** e.g. http://mlflow.internal:5000 (a path prefix is kept: http://host/mlflow) */
  trackingUri: string;
  /** sent as `Authorization: Bearer <token>` (MLFLOW_TRACKING_TOKEN) */
  token?: string;
  /** basic auth (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD), when no token */
  username?: string;
  password?: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface MlflowClient {
  readonly trackingUri: string;
  getRegisteredModel(name: string): Promise<RegisteredModelInfo>;
  getModelVersion(name: string, version: string): Promise<ModelVersionInfo>;
  getModelVersionByAlias(name: string, alias: string): Promise<ModelVersionInfo>;
  getLatestVersions(name: string, stages?: string[]): Promise<ModelVersionInfo[]>;
  /** Where the version's files are stored (the URI to download from). */
  getDownloadUri(name: string, version: string): Promise<string>;
  searchRegisteredModels(options?: SearchOptions): Promise<Page<RegisteredModelInfo>>;
  searchModelVersions(options?: SearchOptions): Promise<Page<ModelVersionInfo>>;
  /** List a directory behind the artifact proxy (path relative to its root). */
  listProxiedArtifacts(path: string): Promise<ArtifactFile[]>;
  /** Download one file behind the artifact proxy to `destFile`, streamed; returns its size. */
  downloadProxiedArtifact(path: string, destFile: string): Promise<number>;
}

const API = 'api/2.0/mlflow';
const ARTIFACTS_API = 'api/2.0/mlflow-artifacts/artifacts';

// MLflow sends int64 fields as numbers, protobuf-JSON gateways as strings: take both.
const int64 = z.union([z.number(), z.string()]).transform((v) => Number(v));
const tagList = z
  .array(z.object({ key: z.string(), value: z.string().optional() }))
  .optional()
  .transform((tags) => Object.fromEntries((tags ?? []).map((t) => [t.key, t.value ?? ''])));

const modelVersionSchema = z
  .object({
    name: z.string(),
    version: z.union([z.string(), z.number()]).transform(String),
    description: z.string().optional(),
    source: z.string().optional(),
    run_id: z.string().optional(),
    status: z.string().optional(),
    status_message: z.string().optional(),
    current_stage: z.string().optional(),
    creation_timestamp: int64.optional(),
    last_updated_timestamp: int64.optional(),
    tags: tagList,
    aliases: z.array(z.string()).optional(),
  })
  .transform(
    (v): ModelVersionInfo => ({
      name: v.name,
      version: v.version,
      description: v.description ?? '',
      source: v.source ?? '',
      runId: v.run_id || null,
      status: v.status ?? 'READY',
      statusMessage: v.status_message || null,
      currentStage: v.current_stage ?? 'None',
      creationTimestamp: v.creation_timestamp ?? null,
      lastUpdatedTimestamp: v.last_updated_timestamp ?? null,
      tags: v.tags,
      aliases: v.aliases ?? [],
    }),
  );

const registeredModelSchema = z
  .object({
    name: z.string(),
    description: z.string().optional(),
    creation_timestamp: int64.optional(),
    last_updated_timestamp: int64.optional(),
    latest_versions: z.array(modelVersionSchema).optional(),
    tags: tagList,
    aliases: z.array(z.object({ alias: z.string(), version: z.union([z.string(), z.number()]).transform(String) })).optional(),
  })
  .transform(
    (m): RegisteredModelInfo => ({
      name: m.name,
      description: m.description ?? '',
      creationTimestamp: m.creation_timestamp ?? null,
      lastUpdatedTimestamp: m.last_updated_timestamp ?? null,
      latestVersions: m.latest_versions ?? [],
      tags: m.tags,
      aliases: Object.fromEntries((m.aliases ?? []).map((a) => [a.alias, a.version])),
    }),
  );

const errorBodySchema = z.object({ error_code: z.string().optional(), message: z.string().optional() });

function codeFor(status: number, mlflowCode: string | undefined): MlflowErrorCode {
  if (mlflowCode === 'RESOURCE_DOES_NOT_EXIST' || status === 404) return 'NOT_FOUND';
  if (status === 401 || mlflowCode === 'UNAUTHENTICATED') return 'UNAUTHENTICATED';
  if (status === 403 || mlflowCode === 'PERMISSION_DENIED') return 'FORBIDDEN';
  if (mlflowCode === 'INVALID_PARAMETER_VALUE' || status === 400) return 'BAD_USER_INPUT';
  if (status === 502 || status === 503 || status === 504) return 'UNAVAILABLE';
  return 'UPSTREAM_ERROR';
}

function authHeader(options: MlflowClientOptions): string | null {
  if (options.token) return `Bearer ${options.token}`;
  if (options.username !== undefined && options.password !== undefined) {
    return `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;
  }
  return null;
}

export function createMlflowClient(options: MlflowClientOptions): MlflowClient {
  let base: URL;
  try {
    base = new URL(options.trackingUri.endsWith('/') ? options.trackingUri : `${options.trackingUri}/`);
  } catch {
    throw new MlflowError('BAD_USER_INPUT', `the MLflow tracking URI "${options.trackingUri}" is not a URL`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new MlflowError('BAD_USER_INPUT', `the MLflow tracking URI must be http(s), got ${base.protocol}`);
  }
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const authorization = authHeader(options);
  const trackingUri = base.toString().replace(/\/$/, '');

  async function call(method: 'GET' | 'POST', path: string, query: Record<string, string | string[] | undefined>, body?: unknown): Promise<Response> {
    const url = new URL(path, base);
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(key, v);
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (authorization) headers.authorization = authorization;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await doFetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      throw new MlflowError('UNAVAILABLE', timedOut ? `no answer from ${trackingUri} within ${timeoutMs} ms` : `cannot reach ${trackingUri}: ${(err as Error).message}`, { cause: err });
    }
    if (res.ok) return res;
    // The body is the upstream server's, and the server may be one a developer named: only
    // MLflow's error code (a fixed vocabulary) and the status go back to the caller, never
    // the text (it could be an internal page reached through a chosen tracking URI).
    const text = await res.text().catch(() => '');
    let mlflowCode: string | undefined;
    try {
      const parsed = errorBodySchema.safeParse(JSON.parse(text));
      if (parsed.success && parsed.data.error_code && /^[A-Z_]{1,64}$/.test(parsed.data.error_code)) mlflowCode = parsed.data.error_code;
    } catch {
      // not JSON
    }
    const message = `the server answered HTTP ${res.status}${mlflowCode ? ` ${mlflowCode}` : ''}`;
    throw new MlflowError(codeFor(res.status, mlflowCode), `${path.replace(`${API}/`, '')}: ${message}`, {
      status: res.status,
      ...(mlflowCode ? { mlflowErrorCode: mlflowCode } : {}),
    });
  }

  async function json<T>(res: Response, schema: z.ZodType<T>, what: string): Promise<T> {
    let value: unknown;
    try {
      value = await res.json();
    } catch (err) {
      throw new MlflowError('INVALID_RESPONSE', `${what}: the answer is not JSON`, { status: res.status, cause: err });
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new MlflowError('INVALID_RESPONSE', `${what}: unexpected answer (${issue?.path.join('.') || 'body'}: ${issue?.message})`, { status: res.status });
    }
    return parsed.data;
  }

  const page = (o: SearchOptions): Record<string, string | string[] | undefined> => ({
    filter: o.filter,
    max_results: o.maxResults === undefined ? undefined : String(o.maxResults),
    order_by: o.orderBy,
    page_token: o.pageToken,
  });

  return {
    trackingUri,
    async getRegisteredModel(name) {
      const res = await call('GET', `${API}/registered-models/get`, { name });
      return (await json(res, z.object({ registered_model: registeredModelSchema }), 'registered-models/get')).registered_model;
    },
    async getModelVersion(name, version) {
      const res = await call('GET', `${API}/model-versions/get`, { name, version });
      return (await json(res, z.object({ model_version: modelVersionSchema }), 'model-versions/get')).model_version;
    },
    async getModelVersionByAlias(name, alias) {
      const res = await call('GET', `${API}/registered-models/alias`, { name, alias });
      return (await json(res, z.object({ model_version: modelVersionSchema }), 'registered-models/alias')).model_version;
    },
    async getLatestVersions(name, stages) {
      const res = await call('POST', `${API}/registered-models/get-latest-versions`, {}, stages ? { name, stages } : { name });
      return (await json(res, z.object({ model_versions: z.array(modelVersionSchema).optional() }), 'get-latest-versions')).model_versions ?? [];
    },
    async getDownloadUri(name, version) {
      const res = await call('GET', `${API}/model-versions/get-download-uri`, { name, version });
      return (await json(res, z.object({ artifact_uri: z.string().min(1) }), 'get-download-uri')).artifact_uri;
    },
    async searchRegisteredModels(options = {}) {
      const res = await call('GET', `${API}/registered-models/search`, page(options));
      const body = await json(
        res,
        z.object({ registered_models: z.array(registeredModelSchema).optional(), next_page_token: z.string().optional() }),
        'registered-models/search',
      );
      return { items: body.registered_models ?? [], nextPageToken: body.next_page_token || null };
    },
    async searchModelVersions(options = {}) {
      const res = await call('GET', `${API}/model-versions/search`, page(options));
      const body = await json(
        res,
        z.object({ model_versions: z.array(modelVersionSchema).optional(), next_page_token: z.string().optional() }),
        'model-versions/search',
      );
      return { items: body.model_versions ?? [], nextPageToken: body.next_page_token || null };
    },
    async listProxiedArtifacts(path) {
      const res = await call('GET', ARTIFACTS_API, { path });
      const body = await json(
        res,
        z.object({
          files: z
            .array(z.object({ path: z.string(), is_dir: z.boolean().optional(), file_size: int64.optional() }))
            .optional(),
        }),
        'mlflow-artifacts list',
      );
      return (body.files ?? []).map((f) => ({ path: f.path, isDir: f.is_dir ?? false, fileSize: f.file_size ?? null }));
    },
    async downloadProxiedArtifact(path, destFile) {
      const encoded = path.split('/').filter(Boolean).map(encodeURIComponent).join('/');
      const res = await call('GET', `${ARTIFACTS_API}/${encoded}`, {});
      let size = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          size += chunk.length;
          done(null, chunk);
        },
      });
      try {
        // models can be large: never hold a whole file in memory
        await pipeline(res.body ? Readable.fromWeb(res.body as WebReadableStream) : Readable.from([]), counter, createWriteStream(destFile));
      } catch (err) {
        throw new MlflowError('UNAVAILABLE', `download of ${path} broke off: ${(err as Error).message}`, { cause: err });
      }
      return size;
    },
  };
}

/** A tracking URI reduced to what identifies the server: origin and path, no trailing slash. */
function serverOf(uri: string): string | null {
  try {
    const u = new URL(uri);
    return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return null;
  }
}

/**
 * Whether the configured MLflow credentials may go to `trackingUri`: only the configured
 * MLFLOW_TRACKING_URI and the servers an admin lists in SLUICE_MLFLOW_TRUSTED_URIS. A
 * developer naming any other server gets an anonymous client — the token is not theirs to
 * send wherever they like.
 */
export function mayCarryCredentials(env: Record<string, string | undefined>, trackingUri: string): boolean {
  const target = serverOf(trackingUri);
  if (!target) return false;
  const trusted = [env['MLFLOW_TRACKING_URI'], ...loadSettings(env).mlflowTrustedUris]
    .map((u) => (u ? serverOf(u.trim()) : null))
    .filter((u): u is string => u !== null);
  return trusted.includes(target);
}

/**
 * A client configured as MLflow's own tools are: MLFLOW_TRACKING_URI, and the credentials
 * (MLFLOW_TRACKING_TOKEN, _USERNAME, _PASSWORD) as the one settings loader reads them —
 * sent only to a trusted tracking server (mayCarryCredentials).
 */
export function mlflowClientFromEnv(env: NodeJS.ProcessEnv = process.env, overrides: Partial<MlflowClientOptions> = {}): MlflowClient {
  const trackingUri = overrides.trackingUri ?? env['MLFLOW_TRACKING_URI'];
  if (!trackingUri) throw new MlflowError('BAD_USER_INPUT', 'MLFLOW_TRACKING_URI is not set');
  const credentials = mayCarryCredentials(env, trackingUri) ? loadSettings(env).mlflow : {};
  return createMlflowClient({ ...credentials, ...overrides, trackingUri });
}
