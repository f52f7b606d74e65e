import { main } from './main.js';
import type { CliIo } from './io.js';

/** Wires the real process to {@link main}: the only place that touches process.argv/exitCode. */
export async function runFromProcess(): Promise<void> {
  // `faceswap-pipe … | head` closes the pipe early (or the terminal goes away). The command
  // goes on without that output rather than stop: a run has paid jobs in flight, and its exit
  // code must still say how it ended (exiting 0 there told CI a run succeeded that had only
  // lost its reader).
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (cause: NodeJS.ErrnoException) => {
      // EIO: the terminal itself is gone (a hangup); the SIGHUP handler stops the run.
      if (cause.code !== 'EPIPE' && cause.code !== 'EIO' && cause.code !== 'ERR_STREAM_DESTROYED')
        throw cause;
      stream.write = () => true;
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
  process.exitCode = await main(process.argv.slice(2), io);
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
    process.stdout.writableLength === 0 &&
    process.stderr.writableLength === 0 &&
    process.getActiveResourcesInfo().every((resource) => IDLE_RESOURCES.has(resource))
  );
}
