// The real sizes of the schema's lists, for the cost model (limits.ts) and for the resolvers
// that enforce them. Every list field of the schema has an entry here (a unit test walks the
// schema to keep it so): costed at the flat `listFactor` (10), the "worst allowed query" did
// ~50× the work its estimate said when 51 groups came back (measured, npm run bench -- trust),
// and the same held for any list that can return more than 10. So each list returns at most
// `max` items — a page (`first`, with `skip` where a caller must read on) or a hard cap its
// resolver enforces — and the cost model multiplies by what it can really return. Resolvers
// import the same constants, so the estimate and what runs cannot drift apart.
import type { ListBound } from './limits.ts';
import { DEFAULT_LIMIT as SEARCH_DEFAULT_LIMIT, MAX_LIMIT as SEARCH_MAX_LIMIT } from '../logs/search.ts';
import { METRIC_NAMES } from '../monitoring/reader.ts';
import { MAX_VERSIONS_PER_GROUP } from '../domain/versions.ts';

/** The most service groups one list returns (`serviceGroups(first:)`, `Project.serviceGroups(first:)`). */
export const GROUP_PAGE_MAX = 200;

/** The connection of groups: its page size when `first`/`last` is not given, and its cap. */
export const GROUP_CONNECTION_DEFAULT = 20;

/** Versions of one group (`ServiceGroup.versions(first:)`), oldest first: the most a group may hold (its write-side limit). */
export const VERSIONS_PER_GROUP_MAX = MAX_VERSIONS_PER_GROUP;
/** Instances of one version (`ServiceVersion.instances(first:)`, `instances(versionId:, first:)`): the most replicas a version may ask for (release-settings.ts). */
export const INSTANCES_PER_VERSION_MAX = 64;
/** Environment entries of one image version: refused above this on write, capped on read. */
export const ENV_ENTRIES_MAX = 64;
/** Arguments of one image command: refused above this on write, capped on read. */
export const COMMAND_ARGS_MAX = 64;
/** API keys of one group (`ServiceGroup.apiKeys(first:)`, `apiKeys(groupId:, first:, skip:)`), newest first. */
export const API_KEYS_PAGE_MAX = 500;
/** Tags of one resource group: refused above this on write, capped on read. */
export const TAGS_MAX = 16;
/** Nodes of one resource group (`ResourceGroup.nodes(first:)`). */
export const NODES_PER_RESOURCE_GROUP_MAX = 50;
/** Projects of one resource group (`ResourceGroup.projects(first:)`). */
export const PROJECTS_PER_RESOURCE_GROUP_MAX = 50;
/** Members of a project and memberships of a user (`first:`). */
export const MEMBERS_PAGE_MAX = 200;
/** Registered models (`registeredModels(first:, skip:)`), by name. */
export const MODELS_PAGE_MAX = 200;
/** Versions of one registered model (`RegisteredModel.versions(first:)`), oldest first. */
export const MODEL_VERSIONS_MAX = 100;
/** Proxies listed by proxyStatus / proxyStatusChanged, and the xDS types one reports. */
export const PROXIES_MAX = 100;
export const PROXY_TYPES_MAX = 8;
/** Alerts of a group (`alerts(groupId:, first:)`, newest first), rules of a group, webhook deliveries of one alert. */
export const ALERTS_PAGE_MAX = 100;
export const ALERTS_PAGE_DEFAULT = 50;
export const QUALITY_RULES_MAX = 100;
export const DELIVERIES_PER_ALERT_MAX = 10;
/** Runs of an inference table (`runs(first:)`), snapshots of quality (`qualityHistory(first:)`), rows (`inferenceRows(first:)`). */
export const INFERENCE_RUNS_MAX = 100;
export const QUALITY_HISTORY_MAX = 1000;
/** 50 snapshots with up to DRIFT_FEATURES_MAX drift entries each fit the cost budget; 100 did not. */
export const QUALITY_HISTORY_DEFAULT = 50;
export const INFERENCE_ROWS_DEFAULT = 100;
export const INFERENCE_ROWS_MAX = 10_000;
/** Per-class and per-feature entries of one quality result, comparisons of one verdict, unknown label keys reported. */
export const QUALITY_CLASSES_MAX = 100;
export const DRIFT_FEATURES_MAX = 32;
export const VERDICT_COMPARISONS_MAX = 8;
export const UNKNOWN_LABELS_MAX = 100;
/** Stored log lines of a version (`logs(limit:)`). */
export const LOG_LINES_DEFAULT = 200;
export const LOG_LINES_MAX = 5000;
/** A page of the log search (`logSearch(limit:)`: its `lines`), logs/search.ts' limits. */
export const LOG_SEARCH_PAGE = { default: SEARCH_DEFAULT_LIMIT, max: SEARCH_MAX_LIMIT, args: ['limit'], items: 'lines' } as const;
/** Series of one metrics answer: one per metric name asked (names are deduplicated). */
export const METRIC_SERIES_MAX = METRIC_NAMES.length;
/** The other connections: default page and cap (Pothos' defaultSize/maxSize). */
export const EVENTS_PAGE = { default: 50, max: 500 } as const;
export const USERS_PAGE = { default: 50, max: 500 } as const;
export const PROJECTS_PAGE = { default: 50, max: 500 } as const;
export const AUDIT_PAGE = { default: 50, max: 500 } as const;
export const RESOURCE_GROUPS_PAGE = { default: 50, max: 200 } as const;

const fixed = (max: number): ListBound => ({ default: max, max });

export const LIST_BOUNDS: Readonly<Record<string, ListBound>> = {
  'Query.serviceGroups': fixed(GROUP_PAGE_MAX),
  'Project.serviceGroups': fixed(GROUP_PAGE_MAX),
  'Query.serviceGroupsConnection': { default: GROUP_CONNECTION_DEFAULT, max: GROUP_PAGE_MAX },
  'Query.events': EVENTS_PAGE,
  'Query.users': USERS_PAGE,
  'Query.projects': PROJECTS_PAGE,
  'Query.auditLogs': AUDIT_PAGE,
  'Query.resourceGroups': RESOURCE_GROUPS_PAGE,
  'ServiceGroup.versions': fixed(VERSIONS_PER_GROUP_MAX),
  'ServiceGroup.apiKeys': fixed(API_KEYS_PAGE_MAX),
  'Query.apiKeys': fixed(API_KEYS_PAGE_MAX),
  'ServiceVersion.instances': fixed(INSTANCES_PER_VERSION_MAX),
  'Query.instances': fixed(INSTANCES_PER_VERSION_MAX),
  'ServiceVersion.logs': { default: LOG_LINES_DEFAULT, max: LOG_LINES_MAX, args: ['limit'] },
  'ImageSource.env': fixed(ENV_ENTRIES_MAX),
  'ImageSource.command': fixed(COMMAND_ARGS_MAX),
  'ResourceGroup.tags': fixed(TAGS_MAX),
  'ResourceGroup.nodes': fixed(NODES_PER_RESOURCE_GROUP_MAX),
  'ResourceGroup.projects': fixed(PROJECTS_PER_RESOURCE_GROUP_MAX),
  'User.memberships': fixed(MEMBERS_PAGE_MAX),
  'Project.members': fixed(MEMBERS_PAGE_MAX),
  'Query.registeredModels': fixed(MODELS_PAGE_MAX),
  'RegisteredModel.versions': fixed(MODEL_VERSIONS_MAX),
  'Query.proxyStatus': fixed(PROXIES_MAX),
  'Subscription.proxyStatusChanged': fixed(PROXIES_MAX),
  'ProxyStatus.types': fixed(PROXY_TYPES_MAX),
  'Query.alerts': { default: ALERTS_PAGE_DEFAULT, max: ALERTS_PAGE_MAX },
  'Mutation.evaluateQualityRules': fixed(QUALITY_RULES_MAX),
  'Query.qualityRules': fixed(QUALITY_RULES_MAX),
  'Alert.deliveries': fixed(DELIVERIES_PER_ALERT_MAX),
  'InferenceTable.runs': { default: 10, max: INFERENCE_RUNS_MAX },
  'Query.qualityHistory': { default: QUALITY_HISTORY_DEFAULT, max: QUALITY_HISTORY_MAX },
  'Query.inferenceRows': { default: INFERENCE_ROWS_DEFAULT, max: INFERENCE_ROWS_MAX },
  'Query.qualityMetrics': fixed(VERSIONS_PER_GROUP_MAX),
  'VersionQuality.classes': fixed(QUALITY_CLASSES_MAX),
  'VersionQuality.drift': fixed(DRIFT_FEATURES_MAX),
  'AbVerdict.comparisons': fixed(VERDICT_COMPARISONS_MAX),
  'LabelReport.unknown': fixed(UNKNOWN_LABELS_MAX),
  'Query.logSearch': LOG_SEARCH_PAGE,
  'Query.metrics': fixed(METRIC_SERIES_MAX),
  'Subscription.metricsUpdated': fixed(METRIC_SERIES_MAX),
};

/**
 * Lists costed at the limits' `listFactor`, each for a stated reason: a leaf list (its items
 * have nothing under them to multiply), or a list whose size its parent's arguments decide
 * in a way the cost model does not follow (a metrics series holds window ÷ step points; the
 * metrics resolver refuses more than MAX_POINTS a series and MAX_POINTS_PER_OPERATION in all).
 */
export const LISTS_COSTED_BY_FACTOR: Readonly<Record<string, string>> = {
  'AuditNotice.actions': 'leaf list (strings)',
  'MetricSeries.points': 'window ÷ step points, at most MAX_POINTS (22 000) a series and MAX_POINTS_PER_OPERATION (70 000) an operation, counted by the metrics resolver before it reads (monitoring/reader.ts); the live stream sends one',
};

/** The number of groups a list returns for its `first` argument (absent: the whole page). */
export function groupPageSize(first: number | null | undefined): number {
  return Math.min(first ?? GROUP_PAGE_MAX, GROUP_PAGE_MAX);
}

/** The number of items a capped list returns for its `first` argument: `first` clamped to [0, max], absent → `max`. */
export function pageSize(first: number | null | undefined, max: number): number {
  return Math.max(0, Math.min(first ?? max, max));
}

/** The first `max` items of a list computed in memory (the cap the cost model assumes). */
export function capped<T>(items: readonly T[], max: number): T[] {
  return items.slice(0, max);
}
