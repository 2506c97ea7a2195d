// The GraphQL names that outside tools and acceptance checks rely on (../shared/CONTRACT.md)
// exist exactly as written: root fields with their arguments and types, and the fields of
// ServiceGroup and ServiceVersion.
import { describe, expect, it } from 'vitest';
import { getNamedType, isObjectType, printSchema, type GraphQLField, type GraphQLObjectType } from 'graphql';
import { schema } from '../../control/graphql/schema.ts';

function signature(field: GraphQLField<unknown, unknown>): string {
  const args = field.args.map((a) => `${a.name}: ${String(a.type)}`).join(', ');
  return `${field.name}${args ? `(${args})` : ''}: ${String(field.type)}`;
}

function fieldsOf(type: GraphQLObjectType | null | undefined): Record<string, string> {
  return Object.fromEntries(Object.values(type?.getFields() ?? {}).map((f) => [f.name, signature(f)]));
}

describe('the GraphQL contract', () => {
  it('has the root fields of CONTRACT.md with their exact arguments and types', () => {
    expect(fieldsOf(schema.getQueryType())).toMatchObject({
      serviceGroups: expect.stringMatching(/^serviceGroups(\(.*\))?: \[ServiceGroup!\]!$/),
      serviceGroup: 'serviceGroup(id: ID, name: String): ServiceGroup',
    });
    expect(fieldsOf(schema.getMutationType())).toMatchObject({
      createServiceGroup: 'createServiceGroup(input: CreateServiceGroupInput!): ServiceGroup!',
      addServiceVersion: 'addServiceVersion(groupId: ID!, input: AddServiceVersionInput!): ServiceVersion!',
      startServiceGroup: 'startServiceGroup(id: ID!): ServiceGroup!',
      stopServiceGroup: 'stopServiceGroup(id: ID!): ServiceGroup!',
      deleteServiceGroup: 'deleteServiceGroup(id: ID!): Boolean!',
      startServiceVersion: 'startServiceVersion(id: ID!): ServiceVersion!',
      stopServiceVersion: 'stopServiceVersion(id: ID!): ServiceVersion!',
      updateServiceVersion: 'updateServiceVersion(id: ID!, input: UpdateServiceVersionInput!): ServiceVersion!',
      setTrafficAllocation: 'setTrafficAllocation(groupId: ID!, allocations: [TrafficAllocationInput!]!, mirror: MirrorInput): ServiceGroup!',
      createApiKey: expect.stringMatching(/^createApiKey\(groupId: ID!.*\): CreatedApiKey!$/),
    });
    expect(fieldsOf(schema.getSubscriptionType())).toMatchObject({
      serviceGroupChanged: 'serviceGroupChanged(id: ID!): ServiceGroup!',
    });
  });

  it('has the ServiceGroup, ServiceVersion and CreatedApiKey fields of CONTRACT.md', () => {
    const group = schema.getType('ServiceGroup');
    const version = schema.getType('ServiceVersion');
    const created = schema.getType('CreatedApiKey');
    if (!isObjectType(group) || !isObjectType(version) || !isObjectType(created)) throw new Error('missing types');
    expect(Object.keys(group.getFields())).toEqual(expect.arrayContaining(
      ['id', 'name', 'type', 'status', 'description', 'creator', 'createdAt', 'runningVersions', 'totalVersions', 'callAddress', 'versions']));
    expect(String(group.getFields().versions!.type)).toBe('[ServiceVersion!]!');
    expect(Object.keys(version.getFields())).toEqual(expect.arrayContaining(
      ['id', 'name', 'status', 'description', 'trafficPercent', 'replicas', 'qpsLimit', 'authEnabled', 'creator', 'createdAt', 'updatedAt']));
    expect(String(created.getFields().key!.type)).toBe('String!');
    expect(getNamedType(created.getFields().apiKey!.type).name).toBe('ApiKey');
  });

  it('has the input fields and upper-case enum values of CONTRACT.md', () => {
    const sdl = printSchema(schema);
    for (const field of ['name: String!', 'description: String', 'model: ModelRefInput', 'image: ImageSourceInput', 'replicas: Int', 'qpsLimit: Int', 'authEnabled: Boolean', 'resources: ResourceSpecInput', 'resourceGroupId: ID']) {
      expect(sdl.split('input AddServiceVersionInput {')[1]!.split('}')[0]).toContain(field);
    }
    expect(sdl).toMatch(/enum ServiceStatus \{\s+DRAFT\s+STARTING\s+RUNNING\s+STOPPING\s+STOPPED\s+FAILED\s+\}/);
    expect(sdl).toMatch(/enum ServiceType \{\s+MODEL_SERVICE\s+ML_SERVICE\s+\}/);
    expect(sdl).toMatch(/input TrafficAllocationInput \{\s+versionId: ID!\s+percent: Int!\s+\}/);
  });

  it('has the traffic names of CONTRACT.md (mirror, throttle, autoscaling, canary guard)', () => {
    const sdl = printSchema(schema);
    const block = (kind: string, name: string) => sdl.split(`${kind} ${name} {`)[1]?.split('}')[0] ?? '';
    expect(block('input', 'MirrorInput')).toMatch(/versionId: ID!\s+percent: Int!/);
    expect(block('type', 'Mirror')).toMatch(/versionId: ID!\s+percent: Int!/);
    expect(block('type', 'ServiceGroup')).toContain('mirror: Mirror\n');
    expect(block('input', 'UpdateServiceVersionInput')).toContain('throttle: ThrottleInput');
    expect(block('input', 'UpdateServiceVersionInput')).toContain('autoscaling: AutoscalingInput');
    expect(block('input', 'UpdateServiceGroupInput')).toContain('canaryGuard: CanaryGuardInput');
    for (const f of ['mode: ThrottleMode!', 'queueDepth: Int', 'maxWaitMs: Int', 'maxConcurrency: Int']) expect(block('input', 'ThrottleInput')).toContain(f);
    for (const f of ['minReplicas: Int!', 'maxReplicas: Int!', 'targetConcurrency: Float', 'targetQps: Float', 'cooldownSeconds: Int']) expect(block('input', 'AutoscalingInput')).toContain(f);
    for (const f of ['enabled: Boolean!', 'maxErrorRateDelta: Float', 'maxLatencyP99Ratio: Float', 'minRequests: Int', 'windowSeconds: Int']) expect(block('input', 'CanaryGuardInput')).toContain(f);
    expect(sdl).toMatch(/enum ThrottleMode \{\s+REJECT\s+QUEUE\s+\}/);
  });
});
