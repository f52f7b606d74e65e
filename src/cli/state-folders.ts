import { relative } from 'node:path';
import { foldersOverlap } from '../state/paths.js';
import { ExitCode } from './exit-codes.js';
import type { CliIo } from './io.js';

/**
 * Refuses a recipe's state folder and output folder that are one folder, or one inside the
 * other (a usage error, 64), before the command writes or removes anything; undefined when
 * they are apart. `run`, `status` and `clean` all check, so no state is ever made there.
 */
export function refuseOverlappingFolders(stateDir: string, outDir: string, io: CliIo): number | undefined {
  const overlap = foldersOverlap(stateDir, outDir);
  if (overlap === undefined) return undefined;
  const shown = (dir: string) => relative(io.cwd, dir) || dir;
  const state = `the state folder ${shown(stateDir)}`;
  const out = `the output folder ${shown(outDir)}`;
  const what =
    overlap === 'same'
      ? `${state} is also ${out}`
      : overlap === 'state-inside-outputs'
        ? `${state} is inside ${out}`
        : `${out} is inside ${state}`;
  io.stderr.write(
    `faceswap-pipe: error: ${what}; job records and outputs cannot share a folder (clean would remove one with the other).\n` +
      'Pick different folders with --state-dir and --out (by default: .faceswap/ next to the recipe, and outputs/).\n',
  );
  return ExitCode.usage;
}
