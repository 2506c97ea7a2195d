// The committed schema and the dashboard's generated types are current: a change to a
// GraphQL type file (or to the dashboard's documents) without `npm run schema:sdl` fails
// here, naming the command. The generator itself refuses a dashboard query the schema
// cannot answer.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_TYPES_PATH, REGENERATE, SDL_PATH, expectedFiles } from '../../control/graphql/sdl.ts';
import { generateDashboardTypes } from '../../scripts/graphql-types.ts';

describe('committed GraphQL schema', () => {
  it(`control/graphql/schema.graphql and web/src/lib/types.ts are current (else run \`${REGENERATE}\`)`, async () => {
    const expected = await expectedFiles();
    const stale = (path: string, want: string) => {
      const have = readFileSync(path, 'utf8');
      return have === want ? null : `${path} is stale: run \`${REGENERATE}\` and commit the result`;
    };
    expect(stale(SDL_PATH, expected.sdl)).toBeNull();
    expect(stale(DASHBOARD_TYPES_PATH, expected.dashboardTypes)).toBeNull();
  });

  it('refuses dashboard documents that the schema cannot answer, naming each problem', () => {
    const sdl = readFileSync(SDL_PATH, 'utf8');
    expect(() => generateDashboardTypes(sdl, { BAD: 'query Bad { serviceGroups { nope } }' }, [])).toThrow(/BAD: Cannot query field "nope" on type "ServiceGroup"/);
    expect(() => generateDashboardTypes(sdl, { ANON: 'query { serviceGroups { id } }' }, [])).toThrow(/needs a name/);
  });

  it('types a result by its selection: nullability, lists, enums, variables', () => {
    const sdl = readFileSync(SDL_PATH, 'utf8');
    const ts = generateDashboardTypes(sdl, {
      Q: 'query G($id: ID!, $name: String) { serviceGroup(id: $id, name: $name) { id status versions { name qpsLimit } } }',
    }, []);
    expect(ts).toContain(`export type GQuery = {
  serviceGroup: {
    id: string;
    status: ServiceStatus;
    versions: Array<{
      name: string;
      qpsLimit: number | null;
    }>;
  } | null;
};`);
    expect(ts).toContain('export type GQueryVariables = {\n  id: string;\n  name?: string | null;\n};');
  });
});
