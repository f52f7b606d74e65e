/**
 * The plain reporter (one line per event, the default off a terminal): a wide fan-out stage is
 * one counter, not lines per item (issue 5), while a small one shows each item.
 */
import { describe, expect, it } from 'vitest';
import type { StageId } from '../src/recipe/types.js';
import { PlainReporter } from '../src/report/plain-reporter.js';
import type { RunEvent } from '../src/run/events.js';

const t = '2026-11-30T00:00:00.000Z';
const stage = (id: string) => id as StageId;

/** The events of a fan-out stage of `total` items; item 1 fails once with a 503, then succeeds. */
function fanOutEvents(total: number): RunEvent[] {
  const events: RunEvent[] = [
    { type: 'stage-start', time: t, stage: stage('many'), model: 'm/x', jobs: total },
  ];
  for (let item = 0; item < total; item++) {
    events.push(
      { type: 'stage-attempt', time: t, stage: stage('many'), item, attempt: 1, reattach: null },
      { type: 'stage-submitted', time: t, stage: stage('many'), item, attempt: 1, requestId: `r${item}` },
    );
  }
  events.push(
    {
      type: 'stage-retry',
      time: t,
      stage: stage('many'),
      item: 1,
      attempt: 1,
      reason: 'service-unavailable',
      message: 'HTTP 503',
      exitCode: 69,
      delayMs: 2000,
      reattach: null,
    },
    { type: 'stage-attempt', time: t, stage: stage('many'), item: 1, attempt: 2, reattach: null },
    { type: 'stage-submitted', time: t, stage: stage('many'), item: 1, attempt: 2, requestId: 'r1b' },
  );
  const order = [0, ...Array.from({ length: total - 2 }, (_, i) => i + 2), 1];
  order.forEach((item, i) =>
    events.push({
      type: 'item-finished',
      time: t,
      stage: stage('many'),
      item,
      ok: true,
      done: i + 1,
      total,
      failed: 0,
    }),
  );
  return events;
}

function print(events: readonly RunEvent[]): string[] {
  let out = '';
  const reporter = new PlainReporter({ write: (text: string) => void (out += text) });
  for (const e of events) reporter.event(e);
  return out.trimEnd().split('\n');
}

describe('the plain reporter', () => {
  it('prints a 40-item stage as its counter: no line per submission, retries counted', () => {
    const lines = print(fanOutEvents(40));
    expect(lines.filter((l) => l.startsWith('[submit]') || l.startsWith('[attempt]'))).toEqual([]);
    expect(lines).toEqual([
      '[start] many m/x (40 jobs)',
      '[retry] many[1] attempt 1 service unavailable (exit 69): HTTP 503; retrying in 2.0s (1 item retrying)',
      '[item] many[10] done (10/40 done, 1 retrying)',
      '[item] many[20] done (20/40 done, 1 retrying)',
      '[item] many[30] done (30/40 done, 1 retrying)',
      '[item] many[1] done (40/40 done)',
    ]);
  });

  it('shows each item of a small fan-out, as for a single job', () => {
    const lines = print(fanOutEvents(3));
    expect(lines.filter((l) => l.startsWith('[submit]'))).toHaveLength(4);
    expect(lines).toContain('[attempt] many[1] attempt 2');
    expect(lines).toContain('[item] many[0] done (1/3 done, 1 retrying)');
  });
});
