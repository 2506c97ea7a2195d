// Opening a terminal into a replica: the rules (admins only, only a RUNNING instance, every
// opening audited, no shell without its audit row) live here; control/http/terminal.ts only
// carries the bytes over a WebSocket and turns the typed errors into close codes.
import { conflict, forbidden, notFound, type SluiceError } from '../../platform/errors.ts';
import type { InstanceState } from '../../platform/db/prisma.ts';
import type { TerminalSession } from '../orchestrator/port.ts';
import { isAdmin, type Actor } from './actor.ts';
import { audit } from './audit.ts';
import type { DomainDeps } from './deps.ts';

/** Why a terminal may not be opened, as a typed error, or null when it may (pure). */
export function terminalRefusal(actor: Actor, instance: { name: string; state: InstanceState } | null, instanceId: string): SluiceError | null {
  if (!isAdmin(actor)) return forbidden(`${actor.username} is not an admin; only admins may open a terminal`);
  if (!instance) return notFound(`no instance with id ${instanceId}`);
  if (instance.state !== 'RUNNING') return conflict(`instance ${instance.name} is ${instance.state}, not RUNNING`);
  return null;
}

/**
 * Holds what the shell prints before anyone listens: the first prompt comes at once, while
 * the audit row is still being written, and a session drops data nobody listens to.
 */
const EARLY_OUTPUT_LIMIT = 1024 * 1024;

function holdEarlyOutput(session: TerminalSession): TerminalSession {
  let held: string[] | null = [];
  let heldChars = 0;
  const listeners: ((data: string) => void)[] = [];
  session.onData((data) => {
    if (held) {
      // bounded: a shell flooding output during those milliseconds loses the excess
      if (heldChars < EARLY_OUTPUT_LIMIT) held.push(data);
      heldChars += data.length;
    } else for (const l of listeners) l(data);
  });
  return {
    tty: session.tty,
    write: (data) => session.write(data),
    resize: (cols, rows) => session.resize(cols, rows),
    onExit: (listener) => session.onExit(listener),
    close: () => session.close(),
    onData(listener) {
      listeners.push(listener);
      if (held) {
        const early = held;
        held = null;
        for (const data of early) listener(data);
      }
    },
  };
}

export interface OpenedTerminal {
  /** output printed before the first onData listener is kept for it */
  session: TerminalSession;
  instanceName: string;
  /** true for a real terminal (Kubernetes exec); false for a shell over pipes (local replicas) */
  tty: boolean;
}

export class Terminals {
  constructor(private readonly deps: DomainDeps) {}

  /**
   * Opens a shell in an instance for an admin and audits it. FORBIDDEN for anyone else,
   * NOT_FOUND for no such instance (or one the orchestrator no longer knows), CONFLICT for
   * an instance that is not RUNNING. If the audit row cannot be written the shell is closed.
   */
  async open(actor: Actor, instanceId: string): Promise<OpenedTerminal> {
    const { prisma, orchestrator, now } = this.deps;
    const instance = await prisma.instance.findUnique({ where: { id: instanceId }, include: { version: { select: { name: true } } } });
    // the admin check comes first: a non-admin learns nothing about the instance
    const refusal = terminalRefusal(actor, instance, instanceId);
    if (refusal) throw refusal;
    if (!instance) throw notFound(`no instance with id ${instanceId}`); // (narrowing only)

    const session = holdEarlyOutput(await orchestrator.openTerminal(instance.versionId, instance.name));
    try {
      const at = now();
      await prisma.$transaction((tx) =>
        audit(tx, actor, 'openTerminal', 'Instance', instance.id, null, { instance: instance.name, versionId: instance.versionId, version: instance.version.name }, at),
      );
    } catch (error) {
      session.close(); // no terminal without its audit row
      throw error;
    }
    return { session, instanceName: instance.name, tty: session.tty };
  }
}
