import { main } from './main.js';
import { ExitCode } from './exit-codes.js';
import type { CliIo } from './io.js';

/** Wires the real process to {@link main}: the only place that touches process.argv/exitCode. */
export async function runFromProcess(): Promise<void> {
  // A stream that fails is written to no more, and the command goes on: a run has paid jobs in
  // flight, and its exit code must still say how it ended.
  // - `faceswap-pipe … | head` closes the pipe early, or the terminal goes away (EIO: a hangup,
  //   which the SIGHUP handler deals with): that output had no reader left, and the exit code
  //   is the command's (exiting 0 there told CI a run succeeded that had only lost its reader).
  // - Anything else (`> plan.json` on a full disk, a quota, a broken device) lost output someone
  //   meant to keep: said on stderr when it still works, and a command that would exit 0 exits
  //   73 (it printed a stack trace and exited 1 before).
  let lostOutput = false;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (cause: NodeJS.ErrnoException) => {
      stream.write = () => true;
      if (cause.code === 'EPIPE' || cause.code === 'EIO' || cause.code === 'ERR_STREAM_DESTROYED') return;
      if (lostOutput) return;
      lostOutput = true;
      if (stream === process.stdout)
        process.stderr.write(
          `faceswap-pipe: error: cannot write the standard output: ${cause.message}; free some space or send the output elsewhere, then run again\n`,
        );
      // Once main() has returned (the error arrives a tick after the write that failed).
      if (process.exitCode === ExitCode.ok) process.exitCode = ExitCode.cantCreate;
    });
  }
  const io: CliIo = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    onSignal: (handler, beforeExit) => {
      // The first signal asks the run to stop cleanly; a second one exits at once, after
      // `beforeExit` has recorded what it can (synchronously: nothing else runs after this).
      let received = 0;
      const on = (signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP') => {
        received++;
        if (received > 1) {
          try {
            beforeExit?.();
          } finally {
            process.exit(130);
          }
        }
        handler(signal);
      };
      const onInt = () => on('SIGINT');
      const onTerm = () => on('SIGTERM');
      // A closed terminal or a dropped ssh session: stop as for SIGTERM (HUP would kill the
      // runner and leave the record "running" and the lock behind).
      const onHup = () => on('SIGHUP');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
      process.on('SIGHUP', onHup);
      return () => {
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
        process.off('SIGHUP', onHup);
      };
    },
  };
  const code = await main(process.argv.slice(2), io);
  process.exitCode = lostOutput && code === ExitCode.ok ? ExitCode.cantCreate : code;
  // Exiting at once when main() left nothing behind skips what Node does before a natural exit:
  // V8's pending garbage-collection tasks and the teardown of a heap about to be discarded,
  // ~15 ms of a cached 200-stage re-run. Anything still pending (output queued on a pipe, which
  // is asynchronous on macOS; a timer; a file operation; a child or worker) gets the natural
  // exit, which waits for it.
  if (nothingPending()) process.exit();
}

/** What a finished process may still hold: its standard streams, and handles being closed. */
const IDLE_RESOURCES = new Set(['PipeWrap', 'TTYWrap', 'CloseReq']);

function nothingPending(): boolean {
  return (
    // A failed write's 'error' event comes a tick later: it must be heard before exiting.
    process.stdout.errored === null &&
    process.stderr.errored === null &&
    process.stdout.writableLength === 0 &&
    process.stderr.writableLength === 0 &&
    process.getActiveResourcesInfo().every((resource) => IDLE_RESOURCES.has(resource))
  );
}
