// The gRPC server Envoy calls on SLUICE_GATEWAY_PORT: ext_authz, rate limit, ext_proc and
// access log, each a thin adapter over the in-process policy it is handed.
import * as grpc from '@grpc/grpc-js';
import { createAuthorizationService, type Authorizer } from './authz.ts';
import type { EnvoyCapture } from './capture.ts';
import { loadGatewayProtos } from './protos.ts';
import type { RateLimiter } from './ratelimit/limiter.ts';
import { createRateLimitService } from './ratelimit/service.ts';

export interface GatewayServerOptions {
  port: number;
  host?: string;
  authorizer: Authorizer;
  rateLimiter: RateLimiter;
  capture: EnvoyCapture;
}

export interface GatewayServer {
  port: number;
  /** Stops accepting calls, waits up to graceMs for running ones, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

export async function startGatewayServer(options: GatewayServerOptions): Promise<GatewayServer> {
  const protos = loadGatewayProtos();
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  server.addService(protos.envoy.service.auth.v3.Authorization.service, createAuthorizationService(options.authorizer));
  server.addService(protos.envoy.service.ratelimit.v3.RateLimitService.service, createRateLimitService(options.rateLimiter));
  server.addService(protos.envoy.service.ext_proc.v3.ExternalProcessor.service, options.capture.processor);
  server.addService(protos.envoy.service.accesslog.v3.AccessLogService.service, options.capture.accessLog);
  const host = options.host ?? '0.0.0.0';
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${options.port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    close: (graceMs = 2000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
