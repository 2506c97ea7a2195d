// `npm run envoy:bootstrap [-- --json] [-- --out FILE]`: prints the Envoy bootstrap for
// this environment (SLUICE_XDS_HOST/PORT, SLUICE_GATEWAY_HOST/PORT, ENVOY_NODE_ID, ...).
import { writeFileSync } from 'node:fs';
import { bootstrapJson, bootstrapYaml } from './bootstrap.ts';
import { xdsSettingsFromEnv } from './settings.ts';

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
    const settings = xdsSettingsFromEnv();
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
