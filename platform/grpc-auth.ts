// Who may call Sluice's gRPC ports (xDS on SLUICE_XDS_PORT, the Envoy plugins on
// SLUICE_GATEWAY_PORT). Both bind to loopback by default. Exposed beyond loopback they must
// be authenticated — by mTLS (certificates from settings: the proxy presents a certificate
// signed by SLUICE_GRPC_TLS_CA) or at least by a shared bearer token that every call carries
// in its `authorization` metadata (SLUICE_GRPC_TOKEN; Envoy sends it as the gRPC service's
// initial_metadata) — and Sluice refuses to start them otherwise. A call without the token is
// answered UNAUTHENTICATED before any handler runs: no cluster read, no NACK recorded, no
// rate-limit budget spent, no inference record taken. On loopback too: without
// SLUICE_GRPC_TOKEN, `npm start` generates one in the data dir (resolveGrpcToken below).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';

export interface GrpcAuth {
  /** shared bearer token every call must carry; null = no token check */
  token: string | null;
  /** server certificate, key, and the CA that signs the proxies' client certificates (mTLS) */
  tls: { cert: Buffer; key: Buffer; ca: Buffer | null } | null;
}

export const NO_GRPC_AUTH: GrpcAuth = { token: null, tls: null };

export class GrpcExposureError extends Error {
  readonly code = 'BAD_CONFIGURATION';
}

export const MIN_GRPC_TOKEN_LENGTH = 16;

/** From the settings' SLUICE_GRPC_TOKEN and SLUICE_GRPC_TLS_CERT / _KEY / _CA (file paths). */
export function grpcAuthOf(settings: { token: string | null; tlsCert: string | null; tlsKey: string | null; tlsCa: string | null }): GrpcAuth {
  const token = settings.token?.trim() || null;
  if (token !== null && token.length < MIN_GRPC_TOKEN_LENGTH) {
    throw new GrpcExposureError(`SLUICE_GRPC_TOKEN must be at least ${MIN_GRPC_TOKEN_LENGTH} characters`);
  }
  const certPath = settings.tlsCert?.trim();
  const keyPath = settings.tlsKey?.trim();
  const caPath = settings.tlsCa?.trim();
  if (Boolean(certPath) !== Boolean(keyPath)) throw new GrpcExposureError('SLUICE_GRPC_TLS_CERT and SLUICE_GRPC_TLS_KEY go together');
  const tls = certPath && keyPath
    ? { cert: readFileSync(certPath), key: readFileSync(keyPath), ca: caPath ? readFileSync(caPath) : null }
    : null;
  return { token, tls };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Refuses to expose a port beyond loopback with nobody checked at the door. */
export function assertExposable(what: string, host: string, auth: GrpcAuth): void {
  if (isLoopback(host)) return;
  if (auth.token || auth.tls?.ca) return;
  throw new GrpcExposureError(
    `${what} would listen on ${host} without authentication: set SLUICE_GRPC_TOKEN (or mTLS with SLUICE_GRPC_TLS_CERT/KEY/CA), or keep it on 127.0.0.1`,
  );
}

export function serverCredentials(auth: GrpcAuth): grpc.ServerCredentials {
  if (!auth.tls) return grpc.ServerCredentials.createInsecure();
  // with a CA: clients must present a certificate it signed (mutual TLS)
  return grpc.ServerCredentials.createSsl(auth.tls.ca, [{ cert_chain: auth.tls.cert, private_key: auth.tls.key }], auth.tls.ca !== null);
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Whether `authorization` metadata carries the token (compared in constant time). */
export function carriesToken(metadata: grpc.Metadata, token: string): boolean {
  const presented = metadata.get('authorization')[0];
  if (typeof presented !== 'string') return false;
  const bare = presented.replace(/^bearer\s+/i, '');
  return timingSafeEqual(digest(bare), digest(token));
}

/** The server interceptor that answers UNAUTHENTICATED to calls without the token. */
export function tokenInterceptor(token: string): grpc.ServerInterceptor {
  return (_method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, pass) => {
            if (carriesToken(metadata, token)) pass(metadata);
            else call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: 'this port needs the Sluice gRPC token (authorization: Bearer …)', metadata: new grpc.Metadata() });
          },
        });
      },
    });
}

/** Server options adding the token check where a token is configured. */
export function serverAuthOptions(auth: GrpcAuth): grpc.ServerOptions {
  return auth.token ? { interceptors: [tokenInterceptor(auth.token)] } : {};
}

/** Client side (the edge's xDS client): every call carries the token. */
export function clientAuthOptions(token: string | null | undefined): grpc.ClientOptions {
  if (!token) return {};
  const interceptor: grpc.Interceptor = (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        metadata.set('authorization', `Bearer ${token}`);
        next(metadata, listener);
      },
    });
  return { interceptors: [interceptor] };
}

export const GRPC_TOKEN_FILE = 'grpc-token';

/**
 * The token the gRPC ports require. Loopback is no boundary on a shared machine (any local
 * process — the `nobody` user that custom commands run as included — can dial 127.0.0.1), so
 * without SLUICE_GRPC_TOKEN one is generated on first start into `<data dir>/grpc-token`
 * (0600, in the 0700 data dir) and read from there afterwards: `npm start`, its edge, `npm run
 * edge` and `npm run envoy:bootstrap` on the same data dir all find the same token.
 */
export function resolveGrpcToken(configured: string | null, dataDir: string): string {
  const given = configured?.trim();
  if (given) return given;
  const path = join(dataDir, GRPC_TOKEN_FILE);
  try {
    const stored = readFileSync(path, 'utf8').trim();
    if (stored.length >= MIN_GRPC_TOKEN_LENGTH) return stored;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('base64url');
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return token;
}
