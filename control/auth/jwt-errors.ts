// jose failures → AuthError reasons: shared with the gateway, in platform/jwt.ts.
export { checkAlgorithm, mapJoseError } from '../../platform/jwt.ts';
