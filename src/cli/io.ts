/** A writable text stream: the real process streams, or a buffer in tests. */
export interface TextSink {
  write(text: string): void;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/**
 * Everything the CLI takes from its process, so tests call `main()` in-process with their own
 * streams and environment. Nothing below `src/cli/` reads `process` for these.
 */
export interface CliIo {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /**
   * Subscribes to SIGINT/SIGTERM/SIGHUP for the duration of a run; returns the unsubscribe function.
   * The first signal calls `handler` (stop cleanly); a second one calls `beforeExit`, which must
   * be synchronous, and exits 130 at once. Absent in-process (tests that need signals run the
   * real binary).
   */
  readonly onSignal?: (
    handler: (signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP') => void,
    beforeExit?: () => void,
  ) => () => void;
}

/** Colour only on a terminal, and never with NO_COLOR or TERM=dumb. */
export function wantsColor(sink: TextSink, env: CliIo['env']): boolean {
  return (
    sink.isTTY === true &&
    env['NO_COLOR'] === undefined &&
    env['TERM'] !== 'dumb' &&
    env['FORCE_COLOR'] !== '0'
  );
}
