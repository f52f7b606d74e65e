/**
 * The run record a process writes as it exits at once (a second Ctrl-C): stages with jobs
 * still on the service are interrupted with those jobs; items of a fan-out that had finished
 * keep their own attempts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/catalog.js';
import { analyzeLoaded } from '../src/recipe/analyze.js';
import { parseRecipeText } from '../src/recipe/load.js';
import type { StageId } from '../src/recipe/types.js';
import { RunRecord } from '../src/state/run-record.js';

const RECIPE = `version: 1
name: fan
consent:
  subjects: { ana: { release: REL-1 } }
  assets: [{ match: "https://assets.example.com/**", rights: owned }]
  disclosure: { label: AI-generated }
stages:
  a:
    model: openai/gpt-image-2/edit
    subjects: [ana]
    foreach: [one, two, three]
    input:
      prompt: "\${{ item }}"
      images: [https://assets.example.com/ana.jpg, https://assets.example.com/beach.jpg]
`;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A run record of RECIPE in a fresh folder (removed after the test). */
function freshRecord(): { dir: string; record: RunRecord } {
  const dir = mkdtempSync(join(tmpdir(), 'run-record-'));
  dirs.push(dir);
  const analysis = analyzeLoaded(parseRecipeText('fan.yaml', RECIPE), { catalog: Catalog.load(), cwd: dir });
  expect(analysis.diagnostics).toEqual([]);
  const header = {
    runId: 'r',
    recipe: analysis.recipe!,
    recipeFile: 'fan.yaml',
    version: '0',
    clientVersion: null,
    options: {},
    startedAt: new Date().toISOString(),
  };
  return { dir, record: new RunRecord(dir, header, (t) => t) };
}

describe('RunRecord.abandon', () => {
  it('keeps finished items as they ended and records only the jobs still out as interrupted', async () => {
    const { dir, record } = freshRecord();
    const a = 'a' as StageId;
    record.stageStarted(
      a,
      [{ prompt: 'one' }, { prompt: 'two' }, { prompt: 'three' }, { prompt: 'four' }],
      true,
    );
    for (const item of [0, 1, 2]) await record.submitted(a, item, 1, `job-${item}`, {});
    record.jobFinished(
      a,
      0,
      [
        {
          attempt: 1,
          item: 0,
          requestId: 'job-0',
          reattached: false,
          startedAt: 1,
          endedAt: 2,
          outcome: 'succeeded',
        },
      ],
      { output: { images: ['https://files.example/0.png'] }, files: ['a/job-0/result.png'] },
    );
    // Item 3's submit had not answered: no id, but the stage was running.
    record.abandon();
    const written = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as {
      status: string;
      inFlight: { requestId: string }[];
      stages: {
        a: {
          status: string;
          failure: { reason: string; message: string };
          attempts: unknown[];
          input: unknown;
        };
      };
    };
    expect(written.status).toBe('interrupted');
    expect(written.inFlight.map((j) => j.requestId)).toEqual(['job-1', 'job-2']);
    expect(written.stages.a.status).toBe('failed');
    expect(written.stages.a.failure.reason).toBe('interrupted');
    expect(written.stages.a.failure.message).toContain('(job-1, job-2)');
    expect(written.stages.a).toMatchObject({
      input: [{ prompt: 'one' }, { prompt: 'two' }, { prompt: 'three' }, { prompt: 'four' }],
      outputs: [{ images: ['https://files.example/0.png'] }, null, null, null],
      files: ['a/job-0/result.png'],
    });
    expect(written.stages.a.attempts).toMatchObject([
      { item: 0, requestId: 'job-0', outcome: 'succeeded' },
      { item: 1, requestId: 'job-1', outcome: 'failed', reason: 'interrupted', reattached: false },
      { item: 2, requestId: 'job-2', outcome: 'failed', reason: 'interrupted', reattached: false },
    ]);
  });

  it('records a stage whose submit had not answered yet as interrupted, not as never run', () => {
    const { dir, record } = freshRecord();
    record.stageStarted('a' as StageId, [{ prompt: 'one' }], true);
    record.abandon();
    const written = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as {
      stages: { a?: { status: string; failure: { message: string } } };
    };
    expect(written.stages.a?.status).toBe('failed');
    expect(written.stages.a?.failure.message).toContain('a submit that had not answered yet');
  });
});
