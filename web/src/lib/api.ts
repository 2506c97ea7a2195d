// Talks to the control plane: queries and mutations as POST /graphql with the bearer
// token, subscriptions over graphql-ws on the same path. Every failure becomes an ApiError
// with a stable code, so pages can show it instead of crashing.
import { createClient, type Client } from 'graphql-ws';
import { session } from './session.svelte.ts';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly field?: string,
    /** the first error's extensions as the server sent them (a refusal's reason and limits) */
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

interface GraphQLErrorBody {
  message: string;
  extensions?: { code?: string; field?: string; [detail: string]: unknown };
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: GraphQLErrorBody[];
}

function toApiError(errors: GraphQLErrorBody[]): ApiError {
  const first = errors[0];
  const message = errors.map((e) => e.message).join('; ');
  return new ApiError(message || 'the request failed', first?.extensions?.code ?? 'INTERNAL', first?.extensions?.field, first?.extensions ?? {});
}

/** Runs one query or mutation; throws ApiError. An expired or revoked token signs the user out. */
export async function gql<T>(query: string, variables: Record<string, unknown> = {}, token = session.token): Promise<T> {
  let res: Response;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError('cannot reach the control plane; is it running?', 'NETWORK');
  }
  let body: GraphQLResponse<T>;
  try {
    body = (await res.json()) as GraphQLResponse<T>;
  } catch {
    throw new ApiError(`the control plane answered ${res.status} without a GraphQL body`, 'BAD_RESPONSE');
  }
  if (body.errors?.length) {
    const error = toApiError(body.errors);
    if (error.code === 'UNAUTHENTICATED' && token && token === session.token) session.signOut(`Signed out: ${error.message}`);
    throw error;
  }
  if (!body.data) throw new ApiError(`the control plane answered ${res.status} with no data`, 'BAD_RESPONSE');
  return body.data;
}

/** Readable text for anything thrown: ApiError's code in front, never "[object Object]". */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.code === 'INTERNAL' || error.code === 'NETWORK' ? error.message : `${error.code}: ${error.message}`;
  if (error instanceof Error) return error.message;
  return String(error);
}

// One WebSocket per token, shared by every live view; graphql-ws retries on its own.
let ws: { token: string; client: Client } | null = null;

type Listener = (connected: boolean) => void;
const listeners = new Set<Listener>();
const reconnectListeners = new Set<() => void>();
let connected = false;
let everConnected = false;

function setConnected(value: boolean): void {
  connected = value;
  for (const l of listeners) l(value);
  if (value && everConnected) for (const l of reconnectListeners) l();
  if (value) everConnected = true;
}

/** Tells the listener whether the live connection is up, now and on each change. */
export function onConnectionChange(listener: Listener): () => void {
  listeners.add(listener);
  listener(connected);
  return () => listeners.delete(listener);
}

/** Notices sent while the socket was down are lost: views refetch when it comes back. */
export function onReconnect(listener: () => void): () => void {
  reconnectListeners.add(listener);
  return () => reconnectListeners.delete(listener);
}

function isCloseEvent(value: unknown): value is { code: number; reason: string } {
  return typeof value === 'object' && value !== null && 'code' in value && typeof (value as { code: unknown }).code === 'number';
}

function liveError(error: unknown): ApiError {
  if (isCloseEvent(error)) {
    if (error.code === 4403) return new ApiError('live updates were refused: the token is no longer valid', 'UNAUTHENTICATED');
    return new ApiError(`the live connection closed (${error.code}${error.reason ? `: ${error.reason}` : ''})`, 'LIVE');
  }
  if (Array.isArray(error)) return toApiError(error as GraphQLErrorBody[]);
  return new ApiError(error instanceof Error ? error.message : 'the live connection failed', 'LIVE');
}

function wsClient(): Client | null {
  const token = session.token;
  if (!token) return null;
  if (ws?.token === token) return ws.client;
  void ws?.client.dispose();
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
  const client = createClient({
    url,
    connectionParams: { authorization: `Bearer ${token}` },
    lazy: true,
    lazyCloseTimeout: 5000, // keeps the socket across page changes
    retryAttempts: Infinity,
    // 4403: the server refused the token; retrying cannot help, the HTTP calls will sign the user out
    shouldRetry: (event) => !(isCloseEvent(event) && event.code === 4403),
    on: {
      connected: () => setConnected(true),
      closed: () => setConnected(false),
    },
  });
  ws = { token, client };
  return client;
}

export function closeLive(): void {
  void ws?.client.dispose();
  ws = null;
  everConnected = false;
  setConnected(false);
}

/**
 * Subscribes; `next` gets each payload's data, `fail` a readable error, `done` the server
 * ending the stream (e.g. the watched group was deleted). Returns the unsubscribe function
 * (call it from the component's cleanup; `done` is not called then).
 */
export function subscribe<T>(
  query: string,
  variables: Record<string, unknown>,
  next: (data: T) => void,
  fail: (error: ApiError) => void = () => undefined,
  done: () => void = () => undefined,
): () => void {
  const client = wsClient();
  if (!client) return () => undefined;
  let stopped = false;
  const unsubscribe = client.subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors?.length) fail(toApiError(result.errors as GraphQLErrorBody[]));
        else if (result.data) next(result.data);
      },
      error: (error) => fail(liveError(error)),
      complete: () => {
        if (!stopped) done();
      },
    },
  );
  return () => {
    stopped = true;
    unsubscribe();
  };
}

/** Calls `fn` once after a burst of calls settles, so a flurry of notices costs one refetch. */
export function debounce(fn: () => void, ms = 150): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  return () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      fn();
    }, ms);
  };
}
