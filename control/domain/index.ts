// The domain layer assembled: one object per domain type, sharing the same dependencies.
// Resolvers call these; nothing else writes the service tables.
import { ApiKeys, type GeneratedKey } from './api-keys.ts';
import type { DomainDeps } from './deps.ts';
import { ServiceGroups } from './groups.ts';
import { Lifecycle } from './lifecycle.ts';
import { People, type PasswordHasher, type SessionIssuer } from './people.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { ResourceGroups } from './resource-groups.ts';
import { Traffic } from './traffic.ts';
import { Terminals } from './terminals.ts';
import { ServiceVersions } from './versions.ts';

export interface Domain {
  deps: DomainDeps;
  groups: ServiceGroups;
  versions: ServiceVersions;
  traffic: Traffic;
  apiKeys: ApiKeys;
  resourceGroups: ResourceGroups;
  people: People;
  lifecycle: Lifecycle;
  terminals: Terminals;
}

export function createDomain(
  deps: DomainDeps,
  credentials: { passwords: PasswordHasher; sessions: SessionIssuer; generateApiKey: () => GeneratedKey; loginThrottle?: LoginThrottle },
): Domain {
  const versions = new ServiceVersions(deps);
  const lifecycle = new Lifecycle(deps);
  lifecycle.listen();
  return {
    deps,
    versions,
    groups: new ServiceGroups(deps, versions),
    traffic: new Traffic(deps),
    apiKeys: new ApiKeys(deps, credentials.generateApiKey),
    resourceGroups: new ResourceGroups(deps),
    people: new People(deps, credentials.passwords, credentials.sessions, credentials.loginThrottle),
    lifecycle,
    terminals: new Terminals(deps),
  };
}

export type { Actor, RoleName } from './actor.ts';
