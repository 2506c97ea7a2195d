// Vitest global setup: compiles dist/ (scripts/build.mjs) when any source is newer than the
// last build, so the integration tests that spawn the product (`npm start`, `npm run edge`,
// local replicas) run the same built JavaScript users run, from the code under test.
// @ts-expect-error -- a plain .mjs script without type declarations
import { buildIfStale } from '../scripts/build.mjs';

export default async function setup(): Promise<void> {
  const result = (await buildIfStale()) as { ms: number; files: string[] } | null;
  if (result) console.log(`[test] built dist/ (${result.files.length} files, ${result.ms} ms)`);
}
