import type { DiagnosticCategory } from '../recipe/diagnostic.js';
import { unreachable } from '../util/unreachable.js';

/**
 * faceswap-pipe's exit codes, shared by every command (README, "Exit codes"). They follow
 * the sysexits family the product brief uses, with 1 for "a stage failed" and 130 for Ctrl-C.
 */
export const ExitCode = {
  ok: 0,
  stageFailed: 1,
  usage: 64,
  dataError: 65,
  noInput: 66,
  unavailable: 69,
  internal: 70,
  cantCreate: 73,
  tempFail: 75,
  noPermission: 77,
  interrupted: 130,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export function exitCodeFor(category: DiagnosticCategory | undefined): ExitCode {
  switch (category) {
    case undefined:
      return ExitCode.ok;
    case 'usage':
      return ExitCode.usage;
    case 'invalid':
      return ExitCode.dataError;
    case 'missing-file':
      return ExitCode.noInput;
    case 'not-permitted':
      return ExitCode.noPermission;
    default:
      return unreachable(category);
  }
}
