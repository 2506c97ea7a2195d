// The instance terminal for local replicas: an interactive shell in the replica's working
// dir with the replica's environment, over pipes (no pseudo-terminal: node-pty is a native
// build we avoid, so full-screen programs and resizing do not apply). The shell runs in its
// own process group and closing the session ends everything it started.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TerminalSession } from '../port.ts';
import { killGroup } from './replica.ts';

export function openShell(options: { cwd: string; env: Record<string, string>; shell?: string }): TerminalSession {
  const shell = options.shell ?? (existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh');
  const env = { ...options.env, PS1: '$ ', TERM: 'dumb' };
  // bash/sh -i reads commands from the pipe and still prints prompts and errors.
  const child = spawn(shell, ['-i'], { cwd: options.cwd, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  const dataListeners: ((data: string) => void)[] = [];
  const exitListeners: ((code: number | null) => void)[] = [];
  let exitCode: number | null | undefined;
  const emit = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    for (const l of dataListeners) l(text);
  };
  child.stdout?.on('data', emit);
  child.stderr?.on('data', emit);
  child.stdin?.on('error', () => undefined); // writing after the shell exited
  const finish = (code: number | null) => {
    if (exitCode !== undefined) return;
    exitCode = code;
    if (child.pid) killGroup(child.pid, 'SIGKILL');
    for (const l of exitListeners) l(code);
  };
  child.once('exit', (code) => finish(code));
  child.once('error', () => finish(null));

  return {
    tty: false,
    write(data: string) {
      if (exitCode === undefined) child.stdin?.write(data);
    },
    resize() {
      // pipes have no window size
    },
    onData(listener) {
      dataListeners.push(listener);
    },
    onExit(listener) {
      if (exitCode !== undefined) listener(exitCode);
      else exitListeners.push(listener);
    },
    close() {
      if (exitCode !== undefined || !child.pid) return;
      child.stdin?.end();
      killGroup(child.pid, 'SIGHUP');
      setTimeout(() => {
        if (exitCode === undefined && child.pid) killGroup(child.pid, 'SIGKILL');
      }, 1000).unref();
    },
  };
}
