// Restart back-off for crashed replicas: exponential delay with a cap, reset after a
// healthy run, and a crash-loop limit so a command that dies at once stops being retried
// (no restart storm) and the version is reported FAILED instead.

export interface BackoffPolicy {
  /** delay before the first restart */
  initialMs: number;
  /** the delay never grows past this */
  maxMs: number;
  /** a replica that stays up this long forgets its earlier crashes */
  resetAfterMs: number;
  /** this many crashes in a row without ever becoming ready: give up on the replica */
  crashLoopLimit: number;
}

export const defaultBackoff: BackoffPolicy = {
  initialMs: 1_000,
  maxMs: 60_000,
  resetAfterMs: 60_000,
  crashLoopLimit: 5,
};

/** Delay before restart number `step` (0-based): initial, 2×, 4×, … capped at maxMs. */
export function backoffDelay(policy: BackoffPolicy, step: number): number {
  const factor = 2 ** Math.min(Math.max(step, 0), 30);
  return Math.min(policy.initialMs * factor, policy.maxMs);
}
