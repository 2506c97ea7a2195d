// Typed authentication failures: they live in platform/auth-errors.ts, shared with the
// gateway's JWT check (platform/jwt.ts); re-exported here for the control plane's auth.
export { AuthError, isAuthError, type AuthFailureReason } from '../../platform/auth-errors.ts';
