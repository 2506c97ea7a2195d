// Typed pub/sub failures. Code INTERNAL (they are server faults, not the caller's), with a
// stable `reason` to tell them apart.

import { SluiceError } from '../errors.ts';

export type PubSubFailure =
  /** publish or subscribe after close() */
  | 'CLOSED'
  /** the broker (Redis) cannot be reached */
  | 'UNAVAILABLE'
  /** the payload cannot be encoded as JSON */
  | 'NOT_SERIALIZABLE';

export class PubSubError extends SluiceError {
  readonly reason: PubSubFailure;

  constructor(reason: PubSubFailure, message: string) {
    super('INTERNAL', message, { reason });
    this.name = 'PubSubError';
    this.reason = reason;
  }
}

export const pubSubClosed = () => new PubSubError('CLOSED', 'pub/sub is closed');
