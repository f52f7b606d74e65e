import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in-process with captured streams (no TTY, so no colour). */
export async function runCli(
  argv: readonly string[],
  options: { cwd?: string; env?: Record<string, string | undefined> } = {},
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (text: string) => void (stdout += text) },
    stderr: { write: (text: string) => void (stderr += text) },
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

/** Makes printed output comparable: no ANSI codes, temp folders as `<tmp>`, Windows line ends folded. */
export function normalize(text: string, tmpDirs: readonly string[] = []): string {
  // eslint-disable-next-line no-control-regex -- stripping ANSI escapes is the point
  let out = text.replace(/\u001b\[[0-9;]*m/g, '').replace(/\r\n/g, '\n');
  for (const dir of [...tmpDirs].sort((a, b) => b.length - a.length)) out = out.split(dir).join('<tmp>');
  return out;
}

/** Replaces measured durations (`850ms`, `12.3s`, `4m05s`) with `<time>`: machines are shared and timings vary. */
export function dropTimes(text: string): string {
  return text.replace(/\b\d+(\.\d+)?ms\b|\b\d+(\.\d+)?s\b|\b\d+m\d\ds\b/g, '<time>');
}
