// A fake MLflow tracking server on loopback for the registry tests: it answers the
// registry and artifact-proxy endpoints the way MLflow 2.x does, records every request
// (method, path, query, headers, body) so tests can check what the client sent, and can
// demand a bearer token.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface FakeMlflowVersion {
  version: string;
  status?: string;
  stage?: string;
  aliases?: string[];
  /** what get-download-uri answers */
  downloadUri: string;
}

export interface FakeMlflowOptions {
  models: Record<string, FakeMlflowVersion[]>;
  /** artifact-proxy files: path (relative to the proxy root) → bytes */
  artifacts?: Record<string, Uint8Array | string>;
  /** when set, every request must carry exactly this Authorization header */
  requireAuth?: string;
}

export interface FakeMlflow {
  url: string;
  requests: RecordedRequest[];
  /** the next request on `path` gets this raw answer instead */
  override(path: string, status: number, body: string, contentType?: string): void;
  close(): Promise<void>;
}

const API = '/api/2.0/mlflow';

export async function startFakeMlflow(options: FakeMlflowOptions): Promise<FakeMlflow> {
  const requests: RecordedRequest[] = [];
  const overrides = new Map<string, { status: number; body: string; contentType: string }>();

  const versionJson = (name: string, v: FakeMlflowVersion) => ({
    name,
    version: v.version,
    creation_timestamp: 1700000000000 + Number(v.version),
    last_updated_timestamp: 1700000000500,
    current_stage: v.stage ?? 'None',
    description: '',
    source: `models:/m-${v.version}`,
    run_id: `run${v.version}`,
    status: v.status ?? 'READY',
    tags: [{ key: 'team', value: 'ml' }],
    aliases: v.aliases ?? [],
  });
  const modelJson = (name: string) => {
    const versions = options.models[name] ?? [];
    return {
      name,
      creation_timestamp: 1700000000000,
      last_updated_timestamp: 1700000000900,
      description: `${name} model`,
      latest_versions: versions.slice(-1).map((v) => versionJson(name, v)),
      tags: [{ key: 'owner', value: 'ds' }],
      aliases: versions.flatMap((v) => (v.aliases ?? []).map((alias) => ({ alias, version: v.version }))),
    };
  };
  const notFound = (what: string) => ({ status: 404, json: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: `${what} not found` } });
  const findVersion = (name: string | null, version: string | null) => (options.models[name ?? ''] ?? []).find((v) => v.version === version);

  function route(method: string, path: string, query: URLSearchParams, body: string): { status: number; json?: unknown; bytes?: Uint8Array } {
    const name = query.get('name');
    switch (`${method} ${path}`) {
      case `GET ${API}/registered-models/get`:
        if (!name) return { status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE', message: 'Missing value for required parameter name' } };
        return options.models[name] ? { status: 200, json: { registered_model: modelJson(name) } } : notFound(`Registered Model with name=${name}`);
      case `GET ${API}/model-versions/get`: {
        const v = findVersion(name, query.get('version'));
        return v ? { status: 200, json: { model_version: versionJson(name as string, v) } } : notFound(`Model Version (name=${name}, version=${query.get('version')})`);
      }
      case `GET ${API}/model-versions/get-download-uri`: {
        const v = findVersion(name, query.get('version'));
        return v ? { status: 200, json: { artifact_uri: v.downloadUri } } : notFound('Model Version');
      }
      case `GET ${API}/registered-models/alias`: {
        const v = (options.models[name ?? ''] ?? []).find((x) => x.aliases?.includes(query.get('alias') ?? ''));
        return v ? { status: 200, json: { model_version: versionJson(name as string, v) } } : notFound('alias');
      }
      case `POST ${API}/registered-models/get-latest-versions`: {
        const req = JSON.parse(body) as { name: string; stages?: string[] };
        const versions = (options.models[req.name] ?? []).filter((v) => !req.stages || req.stages.includes(v.stage ?? 'None'));
        return { status: 200, json: { model_versions: versions.map((v) => versionJson(req.name, v)) } };
      }
      case `GET ${API}/registered-models/search`: {
        // one model per page, to exercise paging
        const names = Object.keys(options.models).sort();
        const start = Number(query.get('page_token') ?? 0);
        const json: Record<string, unknown> = { registered_models: names.slice(start, start + 1).map(modelJson) };
        if (start + 1 < names.length) json.next_page_token = String(start + 1);
        return { status: 200, json };
      }
      case `GET ${API}/model-versions/search`: {
        const match = /^name='(.*)'$/.exec(query.get('filter') ?? '');
        const model = match?.[1] ?? '';
        return { status: 200, json: { model_versions: (options.models[model] ?? []).map((v) => versionJson(model, v)) } };
      }
      case 'GET /api/2.0/mlflow-artifacts/artifacts': {
        const dir = (query.get('path') ?? '').replace(/\/$/, '');
        const files = new Map<string, { is_dir: boolean; size: number }>();
        for (const [p, data] of Object.entries(options.artifacts ?? {})) {
          if (!p.startsWith(`${dir}/`)) continue;
          const [first, ...rest] = p.slice(dir.length + 1).split('/');
          files.set(first as string, { is_dir: rest.length > 0, size: typeof data === 'string' ? data.length : data.byteLength });
        }
        return {
          status: 200,
          json: { files: [...files].map(([p, f]) => (f.is_dir ? { path: p, is_dir: true } : { path: p, is_dir: false, file_size: f.size })) },
        };
      }
      default:
        if (method === 'GET' && path.startsWith('/api/2.0/mlflow-artifacts/artifacts/')) {
          const file = decodeURIComponent(path.slice('/api/2.0/mlflow-artifacts/artifacts/'.length));
          const data = options.artifacts?.[file];
          if (data === undefined) return notFound(`artifact ${file}`);
          return { status: 200, bytes: typeof data === 'string' ? Buffer.from(data) : data };
        }
        return { status: 404, json: { error_code: 'ENDPOINT_NOT_FOUND', message: `no ${method} ${path}` } };
    }
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const body = Buffer.concat(chunks).toString();
      requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body });
      const override = overrides.get(url.pathname);
      if (override) {
        overrides.delete(url.pathname);
        res.writeHead(override.status, { 'content-type': override.contentType });
        res.end(override.body);
        return;
      }
      if (options.requireAuth !== undefined && req.headers.authorization !== options.requireAuth) {
        const status = req.headers.authorization ? 403 : 401;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error_code: status === 403 ? 'PERMISSION_DENIED' : 'UNAUTHENTICATED', message: 'credentials required' }));
        return;
      }
      const answer = route(req.method ?? 'GET', url.pathname, url.searchParams, body);
      if (answer.bytes) {
        res.writeHead(answer.status, { 'content-type': 'application/octet-stream' });
        res.end(answer.bytes);
      } else {
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.json));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    override(path, status, body, contentType = 'application/json') {
      overrides.set(path, { status, body, contentType });
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
