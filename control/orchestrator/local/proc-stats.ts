// Reads per-process facts from Linux /proc: a process's start time (to tell a live replica
// from a recycled PID after a control-plane restart), and CPU time and resident memory
// summed over a replica's whole process group (a shell wrapper's children count too).
// Elsewhere than Linux these return nothing and the instance simply carries no figures.

import { readdirSync, readFileSync } from 'node:fs';

// USER_HZ is 100 on every Linux architecture Node runs on; /proc/<pid>/stat counts in it.
const CLOCK_TICKS_PER_SECOND = 100;

interface StatFields {
  state: string;
  pgrp: number;
  cpuTicks: number; // utime + stime
  startTime: number; // clock ticks since boot
}

function readStat(pid: number): StatFields | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces or ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const rest = text.slice(close + 2).split(' ');
  const field = (n: number) => Number(rest[n - 3]);
  return {
    state: rest[0] ?? '?',
    pgrp: field(5),
    cpuTicks: field(14) + field(15),
    startTime: field(22),
  };
}

/** The kernel's start time of a process, or null when it is gone (zombies count as gone). */
export function processStartTime(pid: number): number | null {
  const stat = readStat(pid);
  if (!stat || stat.state === 'Z' || stat.state === 'X') return null;
  return stat.startTime;
}

/** True when `pid` is alive and is the same process that started at `startTime`. */
export function isSameProcess(pid: number, startTime: number | null): boolean {
  const now = processStartTime(pid);
  if (now === null) return false;
  return startTime === null || now === startTime;
}

function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export interface GroupUsage {
  cpuSeconds: number;
  rssBytes: number;
  processes: number;
}

/** CPU seconds used so far and resident memory now, per process group. One /proc scan for all. */
export function readGroupUsage(groups: number[]): Map<number, GroupUsage> {
  const wanted = new Set(groups);
  const result = new Map<number, GroupUsage>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return result;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const stat = readStat(pid);
    if (!stat || !wanted.has(stat.pgrp) || stat.state === 'Z') continue;
    const usage = result.get(stat.pgrp) ?? { cpuSeconds: 0, rssBytes: 0, processes: 0 };
    usage.cpuSeconds += stat.cpuTicks / CLOCK_TICKS_PER_SECOND;
    usage.rssBytes += rssBytes(pid);
    usage.processes += 1;
    result.set(stat.pgrp, usage);
  }
  return result;
}

/** Turns successive CPU-seconds samples into millicores (1000 = one core busy). */
export class CpuRate {
  private last: { cpuSeconds: number; atMs: number } | null = null;

  sample(cpuSeconds: number, atMs: number): number | undefined {
    const prev = this.last;
    this.last = { cpuSeconds, atMs };
    if (!prev || atMs <= prev.atMs) return undefined;
    return Math.max(0, ((cpuSeconds - prev.cpuSeconds) / ((atMs - prev.atMs) / 1000)) * 1000);
  }
}

/** Members of a process group that are still alive (used to make sure nothing is left behind). */
export function groupMembers(pgid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') members.push(Number(entry));
  }
  return members;
}

/** Waits until no live process is left in a group (they were sent SIGKILL; this is the reaping lag). */
export async function waitGroupGone(pgid: number, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (groupMembers(pgid).length > 0) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}
