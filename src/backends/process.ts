import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { execa as Execa } from 'execa';

/**
 * The one module that imports execa. A child process that fails is data, not an exception
 * (execa's `reject: false`), and stopping one stops its whole process group: the npm shim of
 * the runcomfy client spawns the native binary as a child, and a signal to the shim's PID
 * alone would leave that binary running (runcomfy-contract.md section 7).
 */
export interface ProcessRequest {
  readonly file: string;
  readonly args: readonly string[];
  /** Written to stdin, then stdin is closed. */
  readonly input?: string;
  /** The child's whole environment (nothing is inherited implicitly). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  /** Aborting stops the process group: `stopSignal`, then SIGKILL after `graceMs`. */
  readonly signal?: AbortSignal;
  readonly stopSignal?: 'SIGINT' | 'SIGTERM';
  readonly graceMs?: number;
  /**
   * Send stdout to this file, and stderr to `<file>.err`, as file descriptors the child owns
   * rather than pipes through this process. The child then finishes and writes its answer even
   * if this process dies (a pipe would break under it): that is how a submitted job's id
   * survives a killed runner.
   */
  readonly stdoutFile?: string;
  /** Called with the child's pid as soon as it exists. */
  readonly onSpawn?: (pid: number) => void;
}

export type ProcessResult =
  | { readonly kind: 'exited'; readonly exitCode: number; readonly stdout: string; readonly stderr: string }
  | { readonly kind: 'signaled'; readonly signal: string; readonly stdout: string; readonly stderr: string }
  | { readonly kind: 'stopped'; readonly stdout: string; readonly stderr: string }
  | { readonly kind: 'not-started'; readonly message: string };

/**
 * execa, loaded on the first process: a fully cached re-run starts none, and execa with its
 * dependencies is the largest part of what `run` would otherwise load.
 */
let loading: Promise<typeof Execa> | undefined;

export async function runProcess(request: ProcessRequest): Promise<ProcessResult> {
  if (request.signal?.aborted) return { kind: 'stopped', stdout: '', stderr: '' };
  const execa = await (loading ??= import('execa').then((m) => m.execa));
  const files =
    request.stdoutFile === undefined
      ? undefined
      : {
          out: openSync(request.stdoutFile, 'w', 0o600),
          err: openSync(`${request.stdoutFile}.err`, 'w', 0o600),
        };
  const child = execa(request.file, [...request.args], {
    reject: false,
    input: request.input ?? '',
    env: request.env as Record<string, string>,
    extendEnv: false,
    ...(request.cwd !== undefined && { cwd: request.cwd }),
    detached: true,
    // A child whose answer goes to a file (a submit) outlives this process: killed, the run
    // could not learn the id of a job the submit may already have created; finishing, it
    // leaves the id where the next run looks (src/state/job-store.ts).
    cleanup: request.stdoutFile === undefined,
    stripFinalNewline: false,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    // execa's types list only the descriptors 3-9, but any open descriptor is passed through to the child as is.
    ...(files && { stdout: files.out as 3, stderr: files.err as 3 }),
  });
  if (files) {
    // The child holds its own copies of the descriptors now.
    closeSync(files.out);
    closeSync(files.err);
  }
  if (child.pid !== undefined) request.onSpawn?.(child.pid);
  let stopped = false;
  let killTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    stopped = true;
    signalGroup(child.pid, request.stopSignal ?? 'SIGTERM');
    killTimer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), request.graceMs ?? 3_000);
    killTimer.unref();
  };
  request.signal?.addEventListener('abort', stop, { once: true });
  try {
    const result = await child;
    const stdout =
      request.stdoutFile === undefined
        ? String(result.stdout ?? '')
        : await readFile(request.stdoutFile, 'utf8').catch(() => '');
    const stderr =
      request.stdoutFile === undefined
        ? String(result.stderr ?? '')
        : await readFile(`${request.stdoutFile}.err`, 'utf8').catch(() => '');
    if (result.exitCode === undefined && result.signal === undefined && !stopped) {
      const cause = result.cause as NodeJS.ErrnoException | undefined;
      return { kind: 'not-started', message: describeSpawnError(request.file, cause) };
    }
    if (stopped) return { kind: 'stopped', stdout, stderr };
    if (result.signal) return { kind: 'signaled', signal: result.signal, stdout, stderr };
    return { kind: 'exited', exitCode: result.exitCode ?? 1, stdout, stderr };
  } finally {
    request.signal?.removeEventListener('abort', stop);
    if (killTimer) clearTimeout(killTimer);
  }
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

function describeSpawnError(file: string, cause: NodeJS.ErrnoException | undefined): string {
  switch (cause?.code) {
    case 'ENOENT':
      return `cannot run "${file}": not found`;
    case 'EACCES':
      return `cannot run "${file}": permission denied (is it executable?)`;
    default:
      return `cannot run "${file}": ${cause?.message ?? 'unknown error'}`;
  }
}
