// Regenerates the TypeScript types of the Envoy API protos (proto/generated/) with
// proto-loader-gen-types, so resource builders are typed from the protos themselves.
// The generator writes extensionless relative imports; this project resolves with
// NodeNext, so each one is rewritten to name its `.ts` file.
// Run: npm run proto:types
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENVOY_INCLUDE_DIRS, ENVOY_PROTO_FILES } from './envoy-files.ts';
import { LOADER_OPTIONS } from './envoy.ts';

const OUT = join(import.meta.dirname, 'generated');

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

// The types must describe what the runtime loader produces: same options, one source.
function loaderFlags(): string[] {
  const o = LOADER_OPTIONS;
  const flags: string[] = [];
  if (o.keepCase) flags.push('--keepCase');
  if (o.longs === String) flags.push('--longs', 'String');
  if (o.enums === String) flags.push('--enums', 'String');
  if (o.oneofs) flags.push('--oneofs');
  if (o.defaults) flags.push('--defaults');
  return flags;
}

rmSync(OUT, { recursive: true, force: true });
const bin = join(import.meta.dirname, '..', 'node_modules', '.bin', 'proto-loader-gen-types');
execFileSync(
  bin,
  [
    ...loaderFlags(),
    '--grpcLib', '@grpc/grpc-js',
    '--includeDirs', ...ENVOY_INCLUDE_DIRS,
    '-O', OUT,
    ...ENVOY_PROTO_FILES,
  ],
  { stdio: 'inherit' },
);

let count = 0;
for (const file of walk(OUT)) {
  const text = readFileSync(file, 'utf8');
  const fixed = text
    .replace(/from '(\.\.?\/[^']+?)'/g, (_m, p: string) => `from '${p.endsWith('.ts') ? p : `${p}.ts`}'`)
    // the generator records the proto's path relative to the cwd; keep it stable
    .replace(/^\/\/ Original file: .*node_modules\/@grpc\/grpc-js-xds\/deps\//m, '// Original file: deps/');
  if (fixed !== text) writeFileSync(file, fixed);
  count++;
}
console.log(`proto/generated: ${count} files`);
