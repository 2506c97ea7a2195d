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
import { Prisma } from '../../prisma/generated/sqlite/client.ts';
export type Tx = Prisma.TransactionClient;
/** writes SQL NULL into a Json column (undefined would leave it as it is) */
export const JSON_NULL = Prisma.DbNull;
