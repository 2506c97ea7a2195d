// What process a replica runs: a model version runs the built-in runtime over its ONNX file
// (with the signature written next to it), an image version runs its own command. Both get
// PORT and a small allow-listed environment: the control plane's own variables (database
// URL, admin token, cloud keys) never leak into user code. An image version's command is
// arbitrary code from a project developer: where the control plane can drop privileges
// (it runs as root), the command runs as an unprivileged user (SLUICE_RUN_AS, default
// `nobody`) that cannot read the data dir (0700, owned by the control plane's user); where
// it cannot, running a command is an admin right (see `isolatesCommands`).

import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { badInput } from '../../../platform/errors.ts';
import { entryPath, runningBuilt } from '../../../platform/paths.ts';
import type { VersionDeployment } from '../port.ts';

export type Probe = { kind: 'http'; readyPath: string; healthPath: string } | { kind: 'tcp' };

/** The unprivileged account an image version's command runs as. */
export interface RunAs {
  name: string;
  uid: number;
  gid: number;
}

export interface LaunchSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  probe: Probe;
  /** set: spawn with this uid/gid (its work dir handed to it first) */
  runAs: RunAs | null;
}

export interface LaunchContext {
  port: number;
  workDir: string;
  gpuIndices: number[];
  /** the model runtime's command line (argv); the model's settings go in its env */
  runtimeCommand: string[];
  /** who image versions' commands run as; null = as this process (only admins may set commands then) */
  runAs?: RunAs | null;
}

/**
 * The account image commands run as: `name` (a user name or a numeric uid) looked up in
 * /etc/passwd. Null when this process cannot switch users (not root) or `name` is "none".
 */
export function resolveRunAs(name: string | undefined, passwd = '/etc/passwd'): RunAs | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  const wanted = (name ?? 'nobody').trim();
  if (wanted === '' || wanted === 'none') return null;
  let lines: string[];
  try {
    lines = readFileSync(passwd, 'utf8').split('\n');
  } catch {
    lines = [];
  }
  for (const line of lines) {
    const [user, , uid, gid] = line.split(':');
    if (user === undefined || uid === undefined || gid === undefined) continue;
    if (user === wanted || uid === wanted) {
      const entry = { name: user, uid: Number(uid), gid: Number(gid) };
      if (entry.uid === 0) throw badInput(`SLUICE_RUN_AS names ${user}, which is root: commands would not be isolated`);
      return entry;
    }
  }
  throw badInput(`SLUICE_RUN_AS: no user "${wanted}" in ${passwd}`);
}

const INHERITED_ENV = ['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'SHELL', 'TERM'];

export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED_ENV) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/**
 * The model runtime's command line, by absolute paths so it works from any cwd: the compiled
 * `dist/runtime/server.js` under plain node when this process runs the build (`npm start`),
 * else `node --import <tsx> runtime/server.ts` (tests and development from source). Plain
 * node saves each replica tsx's start-up and memory, and its per-call overhead.
 */
export function defaultRuntimeCommand(): string[] {
  const server = entryPath('runtime/server.ts');
  if (runningBuilt) return [process.execPath, '--enable-source-maps', server];
  const require = createRequire(import.meta.url);
  const tsxLoader = pathToFileURL(require.resolve('tsx')).href;
  return [process.execPath, '--import', tsxLoader, server];
}

/** A model artifact must be a local file for local replicas: a path or a file: URL. */
export function localArtifactPath(uri: string): string {
  if (uri.startsWith('file:')) return fileURLToPath(uri);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    throw badInput(`local replicas need the model artifact on disk; got ${uri.split('://')[0]}:// (download it first)`);
  }
  return uri;
}

export function buildLaunch(d: VersionDeployment, ctx: LaunchContext): LaunchSpec {
  const env: Record<string, string> = { ...baseEnv(), PORT: String(ctx.port) };
  if (ctx.gpuIndices.length > 0) env.CUDA_VISIBLE_DEVICES = ctx.gpuIndices.join(',');
  if (d.source.kind === 'model') {
    const [command, ...args] = ctx.runtimeCommand;
    if (!command) throw badInput('runtime command is empty');
    const signaturePath = join(ctx.workDir, 'signature.json');
    writeFileSync(signaturePath, JSON.stringify(d.source.signature, null, 2));
    Object.assign(env, {
      HOST: '127.0.0.1',
      SLUICE_MODEL_PATH: localArtifactPath(d.source.artifactUri),
      SLUICE_MODEL_SIGNATURE: signaturePath,
      SLUICE_MODEL_NAME: d.source.modelName,
      SLUICE_MODEL_VERSION: d.source.modelVersion,
      SLUICE_MODEL_FORMAT: d.source.format,
    });
    if (d.resources.gpuCount > 0) env.SLUICE_USE_GPU = '1';
    // the built-in runtime is our own code: it runs as the control plane's user
    return { command, args, env, probe: { kind: 'http', readyPath: '/ready', healthPath: '/health' }, runAs: null };
  }
  const [command, ...args] = d.source.command;
  if (!command) throw badInput(`version ${d.versionName}: an image version needs a command to run locally`);
  for (const { name, value } of d.source.env) {
    if (name === 'PORT') continue; // the orchestrator owns the port
    env[name] = value;
  }
  const runAs = ctx.runAs ?? null;
  if (runAs) Object.assign(env, { HOME: ctx.workDir, USER: runAs.name });
  // Arbitrary images promise no health endpoints: an open port is the readiness signal.
  return { command, args, env, probe: { kind: 'tcp' }, runAs };
}

/** What, if changed, means replicas must be replaced rather than re-scaled. */
export function specHash(d: VersionDeployment): string {
  const { replicas: _replicas, ...rest } = d;
  void _replicas;
  const source =
    rest.source.kind === 'image'
      ? { ...rest.source, registryAuth: rest.source.registryAuth ? hash(JSON.stringify(rest.source.registryAuth)) : null }
      : rest.source;
  return hash(JSON.stringify({ ...rest, source, dedicated: rest.dedicated?.resourceGroupName ?? null }));
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function validateDeployment(d: VersionDeployment): void {
  if (!d || typeof d !== 'object') throw badInput('deployment is missing');
  if (!d.versionId) throw badInput('deployment needs a versionId');
  if (!DNS_LABEL.test(d.groupName)) throw badInput(`group name "${d.groupName}" is not a DNS-1123 label`);
  if (!DNS_LABEL.test(d.versionName)) throw badInput(`version name "${d.versionName}" is not a DNS-1123 label`);
  if (!Number.isInteger(d.replicas) || d.replicas < 1 || d.replicas > 100) {
    throw badInput(`replicas must be an integer from 1 to 100 (got ${d.replicas})`);
  }
  if (d.source.kind === 'image' && d.source.command.length === 0) {
    throw badInput(`version ${d.versionName}: an image version needs a command to run locally`);
  }
  const r = d.resources;
  if (!(r.cpu > 0) || !(r.memoryGiB > 0)) throw badInput('resources need cpu > 0 and memoryGiB > 0');
  if (!Number.isInteger(r.gpuCount) || r.gpuCount < 0) throw badInput('gpuCount must be a non-negative integer');
}
