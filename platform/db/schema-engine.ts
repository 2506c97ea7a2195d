// Loads Prisma's WebAssembly schema engine (the migration engine, without the native binary
// that the prisma CLI would download) and opens it on a driver adapter. The package's own
// entry point imports the .wasm file as an ES module, which Node 20 cannot do, so the module
// is instantiated by hand from its bytes; the result is cached for the process.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
  type SqlQuery,
} from '@prisma/driver-adapter-utils';
import type { SchemaEngine } from '@prisma/schema-engine-wasm';

type EngineModule = typeof import('@prisma/schema-engine-wasm/schema_engine_bg');

let loaded: Promise<EngineModule> | undefined;

/**
 * The engine arms timers for its internal timeouts and never clears them (it imports no
 * clearTimeout), so each one would hold the process open for its full length (10 s seen after
 * a migration). They only ever race real I/O, which keeps the process alive by itself, so
 * they are unref'd.
 */
function withUnrefTimers(bg: EngineModule): WebAssembly.ModuleImports {
  const imports: WebAssembly.ModuleImports = { ...(bg as unknown as WebAssembly.ModuleImports) };
  for (const [name, fn] of Object.entries(imports)) {
    if (name.startsWith('__wbg_setTimeout_') && typeof fn === 'function') {
      imports[name] = (...args: unknown[]) => {
        const timer = (fn as (...a: unknown[]) => unknown)(...args);
        (timer as { unref?: () => void }).unref?.();
        return timer;
      };
    }
  }
  return imports;
}

async function instantiate(): Promise<EngineModule> {
  const bg: EngineModule = await import('@prisma/schema-engine-wasm/schema_engine_bg');
  const pkgEntry = createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm');
  const bytes = await readFile(join(dirname(pkgEntry), 'schema_engine_bg.wasm'));
  const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': withUnrefTimers(bg) });
  (bg as unknown as { __wbg_set_wasm(exports: WebAssembly.Exports): void }).__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  return bg;
}

export function loadSchemaEngine(): Promise<EngineModule> {
  loaded ??= instantiate().catch((err: unknown) => {
    loaded = undefined;
    throw err;
  });
  return loaded;
}

/**
 * better-sqlite3 prepares one statement at a time, but the engine sends whole migration
 * scripts through executeRaw; parameterless statements therefore go through executeScript
 * (SQLite's exec), which runs any number of statements.
 */
function scriptAwareAdapter(adapter: SqlDriverAdapter): SqlDriverAdapter {
  const wrapped: SqlDriverAdapter = {
    provider: adapter.provider,
    adapterName: adapter.adapterName,
    queryRaw: (q: SqlQuery) => adapter.queryRaw(q),
    async executeRaw(q: SqlQuery): Promise<number> {
      if (q.args.length > 0) return adapter.executeRaw(q);
      await adapter.executeScript(q.sql);
      return 0;
    },
    executeScript: (s: string) => adapter.executeScript(s),
    startTransaction: (level) => adapter.startTransaction(level),
    dispose: () => adapter.dispose(),
  };
  if (adapter.getConnectionInfo) wrapped.getConnectionInfo = adapter.getConnectionInfo.bind(adapter);
  return wrapped;
}

export function sqliteScriptAware(factory: SqlMigrationAwareDriverAdapterFactory): SqlMigrationAwareDriverAdapterFactory {
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => scriptAwareAdapter(await factory.connect()),
    connectToShadowDb: async () => scriptAwareAdapter(await factory.connectToShadowDb()),
  };
}

export interface OpenEngine {
  engine: SchemaEngine;
  /** Log lines the engine emitted (JSON strings), for error reports. */
  logs: string[];
  close(): void;
}

/** Opens an engine on the adapter; `datamodels` are [fileName, content] pairs, when a command needs the schema. */
export async function openSchemaEngine(
  factory: SqlMigrationAwareDriverAdapterFactory,
  datamodels?: [string, string][],
): Promise<OpenEngine> {
  const mod = await loadSchemaEngine();
  const logs: string[] = [];
  const engine = await mod.SchemaEngine.new(
    { datamodels },
    (line: string) => {
      if (logs.length < 200) logs.push(line);
    },
    bindMigrationAwareSqlAdapterFactory(factory),
  );
  return { engine, logs, close: () => engine.free() };
}
