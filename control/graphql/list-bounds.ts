// The real sizes of the lists that can reach every service group, for the cost model
// (limits.ts). A list without an entry here is costed at the limits' `listFactor` (10), which
// is fair for what hangs off one group (its versions, a version's instances) but not for a
// list of all groups: costed at 10 while 51 came back, the "worst allowed query" did ~50×
// the work its estimate said (measured, npm run bench -- trust). So every list of groups is
// paged: its resolver takes at most `max` rows (GROUP_PAGE_MAX) and the cost model multiplies
// by what it can really return. The resolvers import the same constants, so the estimate
// and what runs cannot drift apart.
import type { ListBound } from './limits.ts';

/** The most service groups one list returns (`serviceGroups(first:)`, `Project.serviceGroups(first:)`). */
export const GROUP_PAGE_MAX = 200;

/** The connection of groups: its page size when `first`/`last` is not given, and its cap. */
export const GROUP_CONNECTION_DEFAULT = 20;

export const LIST_BOUNDS: Readonly<Record<string, ListBound>> = {
  'Query.serviceGroups': { default: GROUP_PAGE_MAX, max: GROUP_PAGE_MAX },
  'Project.serviceGroups': { default: GROUP_PAGE_MAX, max: GROUP_PAGE_MAX },
  'Query.serviceGroupsConnection': { default: GROUP_CONNECTION_DEFAULT, max: GROUP_PAGE_MAX },
};

/** The number of groups a list returns for its `first` argument (absent: the whole page). */
export function groupPageSize(first: number | null | undefined): number {
  return Math.min(first ?? GROUP_PAGE_MAX, GROUP_PAGE_MAX);
}
