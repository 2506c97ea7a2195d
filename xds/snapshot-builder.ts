// Incremental snapshots: the data-plane model → a snapshot, translating and indexing only
// what changed since the previous build. A weight change in one group among thousands
// translates that group's resources (translate.ts `createTranslationCore`), and the new
// snapshot is the previous one with those resources replaced (cache.ts `applyChanges`): the
// untouched types are the same objects, the touched ones carry their delta, so the cache's
// check and every stream's push cost what changed, not the size of the fleet's config.
//
// The first build, and any after the settings change, is a full one (`makeSnapshot`).
import { TYPE_URL } from '../proto/envoy.ts';
import { applyChanges, makeSnapshot, type Snapshot } from './cache.ts';
import type { DataPlaneModel, DataPlaneSettings } from './model.ts';
import { createTranslationCore, type TranslationOptions } from './translate.ts';

export interface BuildStats {
  /** resources translated (encoded) by the last build */
  translated: number;
  /** whether the last build was a full one */
  full: boolean;
  /** resources in the snapshot */
  resourceCount: number;
}

export interface SnapshotBuilder {
  /** The snapshot for `model`; throws XdsTranslateError on a bad model (the state stays as it was). */
  build(model: DataPlaneModel, settings: DataPlaneSettings): Snapshot;
  readonly last: BuildStats;
}

export function createSnapshotBuilder(options: TranslationOptions = {}): SnapshotBuilder {
  let core = createTranslationCore(options);
  let prev: Snapshot | undefined;
  const last: BuildStats = { translated: 0, full: true, resourceCount: 0 };
  return {
    build(model, settings) {
      const pass = core(model, settings);
      const c = pass.changes;
      let next: Snapshot;
      try {
        next =
          c && prev
            ? applyChanges(prev, {
                [TYPE_URL.listener]: c.listeners,
                [TYPE_URL.route]: c.routes,
                [TYPE_URL.cluster]: c.clusters,
                [TYPE_URL.endpoint]: c.endpoints,
              })
            : makeSnapshot(pass.all());
      } catch (err) {
        // the translation state moved on without a snapshot: the next build starts over
        core = createTranslationCore(options);
        prev = undefined;
        throw err;
      }
      prev = next;
      last.translated = pass.translated;
      last.full = !c;
      last.resourceCount = Object.values(next.types).reduce((n, t) => n + t.resources.size, 0);
      return next;
    },
    last,
  };
}
