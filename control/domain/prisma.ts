// The Prisma types the domain layer is written against. The PostgreSQL client generated
// from the same schema has the same API, so the SQLite-generated types stand for both.
export type { PrismaClient, Prisma } from '../../prisma/generated/sqlite/client.ts';
export type {
  ServiceGroup,
  ServiceVersion,
  Instance,
  Event,
  ResourceGroup,
  ApiKey,
  User,
  Project,
} from '../../prisma/generated/sqlite/client.ts';
export {
  ServiceStatus,
  ServiceType,
  Role,
  ModelSourceKind,
  ResourceSourceKind,
  InstanceState,
  EventLevel,
} from '../../prisma/generated/sqlite/enums.ts';
import type { Prisma } from '../../prisma/generated/sqlite/client.ts';
export type Tx = Prisma.TransactionClient;
