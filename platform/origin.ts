// Web origins as browsers send them in the Origin header: what SLUICE_EDGE_CORS_ORIGINS accepts.

/** `scheme://host[:port]` exactly as a browser's Origin header spells it, or null. */
export function normalizeOrigin(value: string): string | null {
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    if (u.pathname !== '/' || u.search || u.hash || u.username || u.password) return null;
    if (value.replace(/\/$/, '').toLowerCase() !== u.origin.toLowerCase()) return null;
    return u.origin;
  } catch {
    return null;
  }
}
