import { InvalidArgumentError, Option } from 'commander';
import { DEFAULT_MAX_RECIPE_BYTES } from '../recipe/limits.js';
import { parseSetArgument, type SetOverride } from '../recipe/sets.js';

/**
 * Every option that more than one command takes is defined here once (lage's `options.ts`
 * habit), so names, parsing and help text cannot drift between commands.
 */
export const options = {
  set: () =>
    new Option(
      '--set <name=value>',
      'override a recipe var (repeatable); JSON lists, numbers and booleans are parsed, anything else is text',
    )
      .argParser(collectSet)
      .default([] as SetOverride[], 'none'),
  catalog: () =>
    new Option(
      '--catalog <dir>',
      'extra model schema folder; its files add models or replace built-in ones by id (repeatable; env FACESWAP_CATALOG)',
    )
      .argParser(collectString)
      .default([] as string[], 'none'),
  maxRecipeSize: () =>
    new Option('--max-recipe-size <size>', 'refuse recipe files larger than this (e.g. 8MB, 512KB)')
      .argParser(parseSize)
      .default(DEFAULT_MAX_RECIPE_BYTES, '8MB'),
  engine: () =>
    new Option(
      '--engine <engine>',
      'route swap: stages for this engine: local prefers local/ models (offline) where one serves the swap',
    )
      .choices(['runcomfy', 'local'])
      .default('runcomfy'),
  stateDir: () =>
    new Option(
      '--state-dir <dir>',
      'state folder: job records and the lock (default: .faceswap/ next to the recipe)',
    ),
  format: (choices: readonly string[], fallback: string) =>
    new Option('--format <format>', `output format`).choices(choices).default(fallback),
} as const;

/** Options every recipe-reading command shares, as parsed by commander. */
export interface RecipeOptions {
  readonly set: readonly SetOverride[];
  /** Which engine `swap:` stages are routed for (`--engine`; validate, plan, route, run, status, clean). */
  readonly engine?: 'runcomfy' | 'local';
  /** `--allow-insecure-local` (tests only): loopback URLs and plain http pass the URL policy. */
  readonly allowInsecureLocal?: boolean;
  readonly catalog: readonly string[];
  readonly maxRecipeSize: number;
}

function collectSet(value: string, previous: SetOverride[]): SetOverride[] {
  const parsed = parseSetArgument(value);
  if (!parsed)
    throw new InvalidArgumentError(
      `expected NAME=VALUE, e.g. --set dance=https://assets.example.com/dance.mp4`,
    );
  return [...previous, parsed];
}

function collectString(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `8MB`, `512KB`, `1GB` or a plain byte count. */
export function parseSize(value: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)\s*(b|kb|k|mb|m|gb|g)?$/i.exec(value.trim());
  if (!match) throw new InvalidArgumentError('expected a size such as 8MB, 512KB or a number of bytes');
  const unit = (match[2] ?? 'b').toLowerCase();
  const factor = unit.startsWith('g')
    ? 1024 ** 3
    : unit.startsWith('m')
      ? 1024 ** 2
      : unit.startsWith('k')
        ? 1024
        : 1;
  return Math.round(Number(match[1]) * factor);
}
