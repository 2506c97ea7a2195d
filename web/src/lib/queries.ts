// Every GraphQL document the dashboard sends, in one place so pages share selections.
export const GROUP_ROW = `
  id name type status description creator createdAt runningVersions totalVersions callAddress`;

/** Instances shown per version (the group's document must fit the server's cost budget; runningInstances counts them all). */
export const INSTANCE_PAGE = 16;

export const VERSION_FIELDS = `
  id name description status statusReason trafficPercent replicas qpsLimit authEnabled creator updatedAt
  modelSource resourceSource resourceGroup { name }
  logDeliveryEnabled inferenceTable { enabled sampleRate } currentQps throttledQps concurrency
  resources { cpu memoryGiB gpuType gpuCount label } model { source name version trackingUri }
  image { image command port env { name } registryUsername hasRegistryPassword }
  runningInstances
  instances(first: ${INSTANCE_PAGE}) { id name state stateReason restartCount node cpuMillicores memoryBytes startedAt }`;

export const GROUP_DETAIL = `${GROUP_ROW} updatedAt versions { ${VERSION_FIELDS} }`;

export const ME = `query Me { me { id username displayName role } }`;
export const LOGIN = `mutation Login($username: String!, $password: String!) {
  login(username: $username, password: $password) { token expiresAt user { id username displayName role } } }`;

/** One page of the group list (the server returns at most GROUP_PAGE; the page reads on while pages are full). */
export const GROUP_PAGE = 200;
export const GROUPS = `query Groups($filter: ServiceGroupFilter, $after: ID) { serviceGroups(filter: $filter, first: ${GROUP_PAGE}, after: $after) { ${GROUP_ROW} } }`;
export const GROUPS_CHANGED = `subscription GroupsChanged { serviceGroupsChanged { groupId kind deleted } }`;
export const CREATE_GROUP = `mutation CreateGroup($input: CreateServiceGroupInput!) { createServiceGroup(input: $input) { id name } }`;
export const START_GROUP = `mutation StartGroup($id: ID!) { startServiceGroup(id: $id) { id status } }`;
export const STOP_GROUP = `mutation StopGroup($id: ID!) { stopServiceGroup(id: $id) { id status } }`;
export const DELETE_GROUP = `mutation DeleteGroup($id: ID!) { deleteServiceGroup(id: $id) }`;

export const GROUP = `query Group($id: ID, $name: String) { serviceGroup(id: $id, name: $name) { ${GROUP_DETAIL} } }`;
export const UPDATE_GROUP = `mutation UpdateGroup($id: ID!, $input: UpdateServiceGroupInput!) { updateServiceGroup(id: $id, input: $input) { id description type } }`;
export const GROUP_CHANGED = `subscription GroupChanged($id: ID!) { serviceGroupChanged(id: $id) { ${GROUP_DETAIL} } }`;
/** Registered models per request (each with up to 100 versions: the page fits the server's cost budget). */
export const MODEL_PAGE = 40;
export const MODELS = `query Models($after: String) { registeredModels(first: ${MODEL_PAGE}, after: $after) { name versions { version } } }`;
export const ADD_VERSION = `mutation AddVersion($groupId: ID!, $input: AddServiceVersionInput!) { addServiceVersion(groupId: $groupId, input: $input) { id name } }`;
export const UPDATE_VERSION = `mutation UpdateVersion($id: ID!, $input: UpdateServiceVersionInput!) { updateServiceVersion(id: $id, input: $input) { id } }`;
export const START_VERSION = `mutation StartVersion($id: ID!) { startServiceVersion(id: $id) { id status } }`;
export const STOP_VERSION = `mutation StopVersion($id: ID!) { stopServiceVersion(id: $id) { id status } }`;
export const DELETE_VERSION = `mutation DeleteVersion($id: ID!) { deleteServiceVersion(id: $id) }`;
export const SET_TRAFFIC = `mutation SetTraffic($groupId: ID!, $allocations: [TrafficAllocationInput!]!) {
  setTrafficAllocation(groupId: $groupId, allocations: $allocations) { id versions { id trafficPercent } } }`;
export const RESTART_INSTANCE = `mutation RestartInstance($id: ID!) { restartInstance(id: $id) }`;
export const LOGS = `query Logs($id: ID!, $limit: Int) { serviceVersion(id: $id) { id logs(limit: $limit) { time instance stream line } } }`;

export const API_KEYS = `query ApiKeys($groupId: ID!) { apiKeys(groupId: $groupId) { id name prefix versionId createdAt lastUsedAt revoked } }`;
export const CREATE_API_KEY = `mutation CreateApiKey($groupId: ID!, $versionId: ID, $name: String) {
  createApiKey(groupId: $groupId, versionId: $versionId, name: $name) { key apiKey { id prefix } } }`;
export const REVOKE_API_KEY = `mutation RevokeApiKey($id: ID!) { revokeApiKey(id: $id) { id revoked } }`;

export const EVENTS = `query Events($groupId: ID!) { events(filter: { groupId: $groupId }, first: 100) {
  edges { node { id level resourceKind resourceName reason message count firstSeen lastSeen } } } }`;

export const PROXY_STATUS = `query ProxyStatus { proxyStatus { nodeId connectedAt synced types { typeUrl ackedVersion nackedVersion nackError } } }`;
export const PROXY_STATUS_CHANGED = `subscription ProxyStatusChanged { proxyStatusChanged { nodeId connectedAt synced types { typeUrl ackedVersion nackedVersion nackError } } }`;

/** Resource groups per request (each with up to 50 nodes and 50 projects: the page fits the server's cost budget). */
export const RESOURCE_GROUP_PAGE = 8;
export const RESOURCE_GROUPS = `query ResourceGroups($after: String) { resourceGroups(first: ${RESOURCE_GROUP_PAGE}, after: $after) { pageInfo { hasNextPage endCursor } edges { node {
  id name description createdAt tags { key value }
  nodes { id name cpu memoryGiB gpuType gpuCount state }
  boundGroup { id name } projects { id name }
  capacity { total { cpu memoryGiB gpus } used { cpu memoryGiB gpus } free { cpu memoryGiB gpus } } } } } }`;
export const RESOURCE_GROUP_CHOICES = `query ResourceGroupChoices { resourceGroups(first: 200) { edges { node { id name boundGroup { id } } } } }`;
export const CREATE_RESOURCE_GROUP = `mutation CreateResourceGroup($name: String!, $description: String) { createResourceGroup(name: $name, description: $description) { id } }`;
export const ADD_NODE = `mutation AddNode($id: ID!, $node: ResourceNodeInput!) { addResourceNode(resourceGroupId: $id, node: $node) { id } }`;
export const REMOVE_NODE = `mutation RemoveNode($id: ID!) { removeResourceNode(nodeId: $id) { id } }`;
export const DELETE_RESOURCE_GROUP = `mutation DeleteResourceGroup($id: ID!) { deleteResourceGroup(id: $id) }`;

export const AUDIT = `query Audit($after: String, $filter: AuditLogFilter) { auditLogs(first: 50, after: $after, filter: $filter) {
  pageInfo { hasNextPage endCursor }
  edges { node { id actorName action resourceKind resourceId before after at } } } }`;

// Debugging: the registered models' signatures, to prefill a valid example row.
export const MODEL_SIGNATURE_PAGE = 20;
export const MODEL_SIGNATURES = `query ModelSignatures($after: String) { registeredModels(first: ${MODEL_SIGNATURE_PAGE}, after: $after) { name versions { version signature } } }`;

// Operations: metrics history and its live stream, stored logs and their live tail.
export const METRICS = `query Metrics($groupId: ID!, $versionId: ID, $instance: String, $names: [MetricName!]!, $range: TimeRange, $from: DateTime, $to: DateTime, $step: MetricStep) {
  metrics(groupId: $groupId, versionId: $versionId, instance: $instance, names: $names, range: $range, from: $from, to: $to, step: $step) {
    name versionId instance reason points { t v } } }`;
export const METRICS_UPDATED = `subscription MetricsUpdated($groupId: ID!, $versionId: ID) { metricsUpdated(groupId: $groupId, versionId: $versionId) {
  name versionId instance reason points { t v } } }`;
export const LOG_SEARCH = `query LogSearch($versionId: ID!, $instance: String, $query: String, $regex: Boolean, $range: TimeRange, $from: DateTime, $to: DateTime, $before: String, $limit: Int) {
  logSearch(versionId: $versionId, instance: $instance, query: $query, regex: $regex, range: $range, from: $from, to: $to, before: $before, limit: $limit) {
    lines { time instance stream line } before dropped } }`;
export const LOG_TAIL = `subscription LogTail($versionId: ID!, $instance: String, $query: String) { logTail(versionId: $versionId, instance: $instance, query: $query) { time instance stream line } }`;

// Inference table and quality: the table with its runs and rows, labels, quality over time,
// the A/B verdict, rules and alerts with their webhook deliveries.
/** The row counts the inference tab offers (the largest must fit the server's cost budget). */
export const INFERENCE_ROW_CHOICES = [50, 200, 400] as const;
export const INFERENCE = `query Inference($groupId: ID!, $versionId: ID, $first: Int) {
  inferenceTable(groupId: $groupId) { rowCount labelledRows lastRunAt running pathPattern
    runs(first: 1) { id state objectsTotal objectsProcessed objectsQuarantined rowsWritten startedAt finishedAt error } }
  inferenceRows(groupId: $groupId, versionId: $versionId, first: $first) { requestId clientRequestId rowIndex version time features prediction label status latencyMs } }`;
export const GROUP_VERSION_NAMES = `query GroupVersionNames($groupId: ID!) { serviceGroup(id: $groupId) { id versions { id name } } }`;
export const INFERENCE_PROGRESS = `query InferenceProgress($groupId: ID!) { inferenceTable(groupId: $groupId) { running
  runs(first: 1) { id state objectsTotal objectsProcessed objectsQuarantined rowsWritten startedAt finishedAt error } } }`;
export const RUN_INFERENCE_JOB = `mutation RunInferenceJob($groupId: ID!) { runInferenceTableJob(groupId: $groupId) {
  id state objectsTotal objectsProcessed objectsQuarantined recordsQuarantined rowsWritten } }`;
export const LABEL_REPORT = `received labelled unknownCount unknown { clientRequestId rowIndex } key`;
export const SUBMIT_LABELS = `mutation SubmitLabels($groupId: ID!, $labels: [LabelInput!]!) { submitLabelBatch(groupId: $groupId, labels: $labels) { ${LABEL_REPORT} } }`;
export const IMPORT_LABELS = `mutation ImportLabels($groupId: ID!, $key: String!, $format: LabelFileFormat!) { importLabels(groupId: $groupId, key: $key, format: $format) { ${LABEL_REPORT} } }`;

export const QUALITY_RULE = `id name metric feature threshold versionId windowSeconds minRows webhookUrl hasWebhookSecret createdAt`;
export const ALERT_FIELDS = `id state value version openedAt resolvedAt rule { id name metric feature threshold }
  deliveries { id event state attempts responseStatus lastError url createdAt deliveredAt }`;
/** Newest alerts shown on the quality page. */
export const ALERT_PAGE = 10;
export const QUALITY = `query Quality($groupId: ID!) {
  serviceGroup(id: $groupId) { id versions { id name } }
  qualityMetrics(groupId: $groupId) { version rows labelledRows accuracy mae errorRate latencyP99Ms drift { feature psi count } }
  abVerdict(groupId: $groupId) { versionA versionB outcome
    comparisons { metric outcome a b sampleA sampleB difference pValue confidenceLow confidenceHigh note } }
  qualityRules(groupId: $groupId) { ${QUALITY_RULE} }
  alerts(groupId: $groupId, first: ${ALERT_PAGE}) { ${ALERT_FIELDS} } }`;
/** Snapshots per request, and how many the charts show (pages of the history, newest first). */
export const QUALITY_HISTORY_PAGE = 64;
export const QUALITY_HISTORY_SHOWN = 500;
export const QUALITY_HISTORY = `query QualityHistory($groupId: ID!, $before: DateTime) {
  qualityHistory(groupId: $groupId, first: ${QUALITY_HISTORY_PAGE}, before: $before) { version windowTo rows labelledRows quality { accuracy drift { feature psi } } } }`;
export const ALERT_CHANGED = `subscription AlertChanged($groupId: ID!) { alertChanged(groupId: $groupId) { ${ALERT_FIELDS} } }`;
export const CREATE_QUALITY_RULE = `mutation CreateQualityRule($groupId: ID!, $input: QualityRuleInput!) { createQualityRule(groupId: $groupId, input: $input) { webhookSecret rule { ${QUALITY_RULE} } } }`;
export const UPDATE_QUALITY_RULE = `mutation UpdateQualityRule($id: ID!, $input: QualityRuleUpdateInput!) { updateQualityRule(id: $id, input: $input) { ${QUALITY_RULE} } }`;
export const DELETE_QUALITY_RULE = `mutation DeleteQualityRule($id: ID!) { deleteQualityRule(id: $id) }`;
export const EVALUATE_QUALITY_RULES = `mutation EvaluateQualityRules($groupId: ID!) { evaluateQualityRules(groupId: $groupId) { id } }`;
export const AUDIT_LOGGED = `subscription AuditLogged { auditLogged { at actions } }`;
export const RESOURCE_GROUPS_CHANGED = `subscription ResourceGroupsChanged { resourceGroupsChanged }`;
