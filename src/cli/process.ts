import { main } from './main.js';
import type { CliIo } from './io.js';

/** Wires the real process to {@link main}: the only place that touches process.argv/exitCode. */
export async function runFromProcess(): Promise<void> {
  // `faceswap-pipe … | head` closes the pipe early: stop quietly instead of printing a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (cause: NodeJS.ErrnoException) => {
      if (cause.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
      throw cause;
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
      const on = (signal: 'SIGINT' | 'SIGTERM') => {
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
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
      return () => {
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
      };
    },
  };
  process.exitCode = await main(process.argv.slice(2), io);
}
