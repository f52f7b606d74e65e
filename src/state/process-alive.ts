import { readFileSync, readlinkSync } from 'node:fs';

/**
 * Whether a process still runs. `kill(pid, 0)` alone is not enough here: an orphan that was
 * never reaped lingers as a zombie that still answers it, and a PID can be reused by another
 * program. So on Linux read `/proc/<pid>/stat`: a zombie (`Z`) or dead (`X`) process counts as
 * gone, and when `startTime` is given the process must have started at that same clock tick.
 */
export function processAlive(pid: number, startTime?: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const stat = readStat(pid);
  if (stat === undefined) {
    if (process.platform === 'linux') return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch (cause) {
      return (cause as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return startTime === undefined || startTime === stat.startTime;
}

/** This process's start time as `/proc` reports it (clock ticks since boot), when available. */
export function processStartTime(pid: number = process.pid): string | undefined {
  return readStat(pid)?.startTime;
}

function readStat(pid: number): { state: string; startTime: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTime = fields[19];
  if (state === undefined || startTime === undefined) return undefined;
  return { state, startTime };
}

let ownNamespace: string | null | undefined;

/**
 * This process's PID namespace (`pid:[4026531836]`, from `/proc/self/ns/pid`), when the system
 * has them. Two containers can share a hostname and a volume while their pids mean different
 * processes: a pid recorded in another namespace says nothing about the process here.
 */
export function pidNamespace(): string | undefined {
  if (ownNamespace === undefined) {
    try {
      ownNamespace = readlinkSync('/proc/self/ns/pid');
    } catch {
      ownNamespace = null;
    }
  }
  return ownNamespace ?? undefined;
}
