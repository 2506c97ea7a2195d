// `npm run k8s:render -- <group>`: the entry point only (the renderer is render.ts). Kept apart
// so that no other module imports this file: the build (scripts/build.mjs) keeps an entry
// module in its own dist/ file only while nothing else shares it, and the check below
// compares this file's URL with the script node was asked to run.
import { resolve } from 'node:path';
import { main } from './render.ts';

export { main, renderGroupYaml } from './render.ts';

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  process.exitCode = await main(process.argv.slice(2));
}
