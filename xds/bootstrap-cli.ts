// `npm run envoy:bootstrap [-- --json] [-- --out FILE]`: prints the Envoy bootstrap for
// this environment (SLUICE_XDS_HOST/PORT, SLUICE_GATEWAY_HOST/PORT, ENVOY_NODE_ID, ...), with
// the gRPC token Envoy must present (SLUICE_GRPC_TOKEN, or the one `npm start` keeps in the data dir).
import { writeFileSync } from 'node:fs';
import { bootstrapJson, bootstrapYaml } from './bootstrap.ts';
import { xdsSettingsOf } from './settings.ts';
import { loadSettings } from '../platform/settings.ts';
import { resolveGrpcToken } from '../platform/grpc-auth.ts';

function main(argv: string[]): number {
  const json = argv.includes('--json');
  const outAt = argv.indexOf('--out');
  const out = outAt >= 0 ? argv[outAt + 1] : undefined;
  if (outAt >= 0 && !out) {
    process.stderr.write('--out needs a file name\n');
    return 2;
  }
  let text: string;
  try {
    const loaded = loadSettings(process.env);
    // the token the xDS and gateway ports require: SLUICE_GRPC_TOKEN or the data dir's
    const settings = xdsSettingsOf({ ...loaded, grpc: { ...loaded.grpc, token: resolveGrpcToken(loaded.grpc.token, loaded.dataDir) } });
    text = json ? bootstrapJson(settings) : bootstrapYaml(settings);
  } catch (err) {
    process.stderr.write(`envoy:bootstrap: ${(err as Error).message}\n`);
    return 1;
  }
  if (out) writeFileSync(out, text);
  else process.stdout.write(text);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
