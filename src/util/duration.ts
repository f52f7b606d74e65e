/** Durations as recipes write them: a positive integer with a unit, e.g. `90s`, `15m`, `2h`, `6d`. */
export const DURATION_PATTERN = '^[1-9][0-9]*(s|m|h|d)$';

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds for a duration string, or undefined when it does not match {@link DURATION_PATTERN}. */
export function parseDuration(text: string): number | undefined {
  const match = /^([1-9][0-9]*)(s|m|h|d)$/.exec(text);
  if (!match) return undefined;
  const unit = match[2] as keyof typeof UNIT_MS;
  const value = Number(match[1]) * UNIT_MS[unit];
  return Number.isSafeInteger(value) ? value : undefined;
}

/** A compact human form for summaries: `850ms`, `12.3s`, `4m05s`, `1h02m`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  const totalSeconds = Math.round(ms / 1_000);
  if (totalSeconds < 3_600) {
    return `${Math.floor(totalSeconds / 60)}m${String(totalSeconds % 60).padStart(2, '0')}s`;
  }
  const minutes = Math.floor(totalSeconds / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** A setting's duration in the recipe's own notation, the largest exact unit: `15m`, `2h`, `90s`. */
export function formatDurationSetting(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return ms % 1_000 === 0 ? `${ms / 1_000}s` : `${ms}ms`;
}
