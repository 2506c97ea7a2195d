// Waiting until an edge routes what the control plane says runs: used before a process
// says "ready", so that the first request after it cannot meet a routing table that is one
// debounced xDS push behind the database.
import type { DataPlaneModel } from '../../xds/model.ts';
import { pickVersion } from './routing.ts';
import type { RoutingSource } from './xds-client.ts';

/** true when every running version of the model can be reached through `routing` */
export function routesModel(routing: RoutingSource, model: DataPlaneModel): boolean {
  const table = routing.current();
  if (!table.configured) return false;
  return model.groups.every((g) => {
    const group = table.groups.get(g.name);
    if (!group) return false;
    return g.versions
      .filter((v) => v.endpoints.some((e) => e.healthy))
      .every((v) => pickVersion(group, v.name, () => 0.5).kind === 'version');
  });
}

/** Resolves once `routesModel` holds, or after `timeoutMs` with false. */
export function waitForRoutes(routing: RoutingSource, model: DataPlaneModel, timeoutMs: number): Promise<boolean> {
  if (routesModel(routing, model)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      unsubscribe();
      resolve(false);
    }, timeoutMs);
    const unsubscribe = routing.onChange(() => {
      if (!routesModel(routing, model)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(true);
    });
  });
}
