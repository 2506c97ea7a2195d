// GraphQL enums, taken from the Prisma enums so the two cannot drift apart.
import {
  EventLevel, InstanceState, ModelSourceKind, NodeState, ResourceSourceKind, Role, ServiceStatus, ServiceType,
} from '../../../prisma/generated/sqlite/enums.ts';
import { builder } from '../builder.ts';

export const ServiceStatusEnum = builder.enumType(ServiceStatus, { name: 'ServiceStatus' });
export const ServiceTypeEnum = builder.enumType(ServiceType, { name: 'ServiceType' });
export const RoleEnum = builder.enumType(Role, { name: 'Role' });
export const ModelSourceEnum = builder.enumType(ModelSourceKind, { name: 'ModelSource' });
export const ResourceSourceEnum = builder.enumType(ResourceSourceKind, { name: 'ResourceSource' });
export const InstanceStateEnum = builder.enumType(InstanceState, { name: 'InstanceState' });
export const EventLevelEnum = builder.enumType(EventLevel, { name: 'EventLevel' });
export const NodeStateEnum = builder.enumType(NodeState, { name: 'NodeState' });
