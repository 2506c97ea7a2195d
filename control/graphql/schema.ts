// The GraphQL schema: every domain type file registers itself on the builder; this module
// imports them all once and builds the executable schema.
import { builder } from './builder.ts';
import './types/scalars.ts';
import './types/enums.ts';
import './types/service-group.ts';
import './types/service-version.ts';
import './types/instance.ts';
import './types/api-key.ts';
import './types/resource-group.ts';
import './types/people.ts';
import './types/audit.ts';
import './types/live-lists.ts';
import './types/model-registry.ts';
import './types/proxy-status.ts';
import './types/monitoring.ts';
import './types/logs.ts';
import './types/inference.ts';
import './types/quality-rules.ts';

export const schema = builder.toSchema({ sortSchema: false });
