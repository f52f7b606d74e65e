import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  readRunData,
  runDataOf,
  type GraphNode,
  type RecordedStage,
  type RunRecordFile,
} from '../src/report/html/run-data.js';
import { fence, renderJobSummary, writeJobSummary } from '../src/report/summary-md.js';
import { dropTimes } from './helpers/cli.js';
import { sandbox, type RunnerSandbox } from './helpers/runner.js';

const KONTEXT = 'blackforestlabs/flux-1-kontext/pro/edit';
const KLING = 'kling/kling-2-6/motion-control-pro';
const EXAMPLE = readFileSync(new URL('../recipes/kontext-to-kling.yaml', import.meta.url), 'utf8');
/** The example's graph as the plan (and the run-start event) gives it. */
const GRAPH = [
  { id: 'face', model: KONTEXT, needs: [] },
  { id: 'motion', model: KLING, needs: ['face'] },
];

let sb: RunnerSandbox | undefined;
afterEach(() => {
  sb?.cleanup();
  sb = undefined;
});

/** Runs the example recipe against the stand-in with its motion stage failing; returns the run folder. */
async function failingRun(): Promise<string> {
  sb = sandbox({ models: { [KLING]: { steps: [{ status: 'failed', error: 'motion model crashed' }] } } });
  const file = sb.recipe('recipes/kontext-to-kling.yaml', EXAMPLE);
  const result = await sb.run(['run', file, '--reporter', 'plain']);
  expect(result.code).toBe(1);
  const runs = join(sb.standin.dir, 'outputs/summer-launch/runs');
  return join(runs, readdirSync(runs).sort().at(-1)!);
}

function stable(text: string): string {
  return dropTimes(text)
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>')
    .replace(/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z/g, '<ts>');
}

const EXPECTED = `### faceswap-pipe: summer-launch ❌ failed

recipe \`recipes/kontext-to-kling.yaml\` · 2 stages: 1 succeeded, 1 failed · 2 jobs paid · <time> · exit 1

| stage | status | model | attempts | time | cost |
| --- | --- | --- | ---: | ---: | --- |
| face | ✅ succeeded | \`blackforestlabs/flux-1-kontext/pro/edit\` | 1 | <time> | paid: 1 job |
| motion | ❌ failed: job failed | \`kling/kling-2-6/motion-control-pro\` | 1 | <time> | paid: 1 job |

#### Failures

- **motion**: job failed: the service reports job <id> failed: "motion model crashed"
  <details><summary>stderr (last lines)</summary>

  \`\`\`
  {"error":"request failed: \\"motion model crashed\\""}
  \`\`\`

  </details>

#### Graph

\`\`\`mermaid
flowchart LR
  s0["face<br/><small>blackforestlabs/flux-1-kontext/pro/edit</small><br/>succeeded"]
  s1["motion<br/><small>kling/kling-2-6/motion-control-pro</small><br/>failed"]
  s0 --> s1
  classDef succeeded fill:#dafbe1,stroke:#1a7f37,color:#0f5323
  class s0 succeeded
  classDef failed fill:#ffebe9,stroke:#cf222e,color:#82071e
  class s1 failed
\`\`\`

#### Outputs

- **face** (1 file): [face/<id>/result.png](outputs/summer-launch/face/<id>/result.png)

Run record: [outputs/summer-launch/runs/<ts>/run.json](outputs/summer-launch/runs/<ts>/run.json) · contact sheet: [report.html](outputs/summer-launch/runs/<ts>/report.html)
`;

describe('job summary', () => {
  it('renders the stage table, the failure, the Mermaid graph and the output links', async () => {
    const runDir = await failingRun();
    const run = await readRunData(runDir, { graph: GRAPH });
    expect(stable(renderJobSummary(run, { linkBase: sb!.standin.dir }))).toBe(EXPECTED);
    // On GitHub it also points at the run's artifacts.
    const onGithub = renderJobSummary(run, {
      linkBase: sb!.standin.dir,
      env: {
        GITHUB_SERVER_URL: 'https://github.com',
        GITHUB_REPOSITORY: 'acme/campaigns',
        GITHUB_RUN_ID: '42',
      },
    });
    expect(onGithub.trimEnd().split('\n').at(-1)).toBe(
      "The files are in this workflow run's artifacts: https://github.com/acme/campaigns/actions/runs/42#artifacts",
    );
  });

  it('infers the graph from the record when none is given, and says so', async () => {
    const runDir = await failingRun();
    // Run records now keep each stage's needs; an older record without them is the case here.
    const path = join(runDir, 'run.json');
    const record = JSON.parse(readFileSync(path, 'utf8')) as { stages: Record<string, { needs?: unknown }> };
    for (const stage of Object.values(record.stages)) delete stage.needs;
    writeFileSync(path, JSON.stringify(record));
    const summary = renderJobSummary(await readRunData(runDir), { linkBase: sb!.standin.dir });
    expect(summary).toContain('  s0 --> s1\n');
    expect(summary).toContain('_Dependencies inferred from the run record (stage outputs used as inputs)._');
  });

  it('appends to $GITHUB_STEP_SUMMARY and writes --summary FILE with links relative to that file', async () => {
    const runDir = await failingRun();
    const dir = sb!.standin.dir;
    const step = join(dir, 'step-summary.md');
    writeFileSync(step, '## an earlier step\n');
    mkdirSync(join(dir, 'reports'));
    const written = await writeJobSummary(runDir, {
      file: 'reports/summary.md',
      env: { GITHUB_STEP_SUMMARY: step },
      cwd: dir,
      graph: GRAPH,
    });
    expect(written).toEqual([step, join(dir, 'reports/summary.md')]);
    const appended = readFileSync(step, 'utf8');
    expect(appended.startsWith('## an earlier step\n### faceswap-pipe: summer-launch')).toBe(true);
    expect(stable(appended.slice('## an earlier step\n'.length))).toBe(EXPECTED);
    const file = stable(readFileSync(join(dir, 'reports/summary.md'), 'utf8'));
    expect(file).toContain('[face/<id>/result.png](../outputs/summer-launch/face/<id>/result.png)');
    // Written again, the file is replaced, not appended to.
    await writeJobSummary(runDir, { file: 'reports/summary.md', env: {}, cwd: dir, graph: GRAPH });
    expect(stable(readFileSync(join(dir, 'reports/summary.md'), 'utf8'))).toBe(file);
  });

  it('keeps a service message inside its list item (no CR line breaks, links or images) and writes --summary when the step summary cannot be', async () => {
    sb = sandbox({
      models: {
        [KLING]: {
          steps: [
            {
              status: 'failed',
              error:
                'bad\r\r| a | b |\r|---|---|\r| ![x](https://evil.example/t.png) | [y](https://evil.example) |\r\r## Forged',
            },
          ],
        },
      },
    });
    const file = sb.recipe('recipes/kontext-to-kling.yaml', EXAMPLE);
    const dir = sb.standin.dir;
    writeFileSync(join(dir, 'blocker'), 'a file, not a folder\n');
    const result = await sb.run(['run', file, '--reporter', 'plain', '--summary', 'out/summary.md'], {
      GITHUB_STEP_SUMMARY: join(dir, 'blocker/step.md'),
    });
    // The stage failed (1); the summary asked for was written; GitHub's file is only a warning.
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('warning: could not write the step summary ($GITHUB_STEP_SUMMARY)');
    const summary = readFileSync(join(dir, 'out/summary.md'), 'utf8');
    const failure = summary.split('\n').find((l) => l.startsWith('- **motion**'))!;
    expect(failure).toContain('| !\\[x\\](https://evil.example/t.png) | \\[y\\](https://evil.example) |');
    expect(summary).not.toMatch(/\r/);
    expect(summary).not.toMatch(/^## Forged/m);

    // A message with raw CRs (CommonMark line breaks) stays on its bullet's line.
    const runs = join(dir, 'outputs/summer-launch/runs');
    const runDir = join(runs, readdirSync(runs).sort().at(-1)!);
    const path = join(runDir, 'run.json');
    const record = JSON.parse(readFileSync(path, 'utf8')) as {
      stages: Record<string, { failure?: { message: string } }>;
    };
    record.stages['motion']!.failure!.message = 'bad\r\r## Forged\r[link](https://evil.example)';
    writeFileSync(path, JSON.stringify(record));
    const rendered = renderJobSummary(await readRunData(runDir), { linkBase: dir });
    expect(rendered).toContain('- **motion**: job failed: bad  ## Forged \\[link\\](https://evil.example)\n');
    expect(rendered).not.toMatch(/\r/);
  });

  it('fences text with a fence longer than any backticks in it (the diagnostics of a refused recipe quote its lines)', () => {
    expect(fence('key: "x\n`````\n# Pwned"', '', 'text')).toBe(
      '``````text\nkey: "x\n`````\n# Pwned"\n``````',
    );
    expect(fence('plain', '  ')).toBe('  ```\n  plain\n  ```');
  });

  it('stays under the 1 MiB GitHub takes for a large failing campaign, saying what it leaves out and where it is', async () => {
    const runDir = await failingRun();
    const record = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as RunRecordFile;
    const failed = record.stages['motion']!;
    // 400 failed stages, each with a 7 KB message and a 7 KB stderr tail (a Python traceback).
    const stages: Record<string, RecordedStage> = {};
    const graph: GraphNode[] = [];
    for (let i = 0; i < 400; i++) {
      const trace = `Traceback (most recent call last):\n${'  File "model.py", line 1, in run\n'.repeat(200)}Error ${i}`;
      stages[`s${i}`] = {
        ...failed,
        stage: `s${i}`,
        failure: {
          reason: 'job-failed',
          message: `job failed: ${trace}`,
          retryable: false,
          stderrTail: `other ${trace}`,
        },
      } as RecordedStage;
      graph.push({ id: `s${i}`, model: KLING, needs: i < 2 ? [] : [`s${i - 1}`, `s${i - 2}`] });
    }
    const summary = renderJobSummary(runDataOf(runDir, { ...record, stages }, { graph }), {
      linkBase: runDir,
    });
    expect(Buffer.byteLength(summary)).toBeLessThanOrEqual(1_000_000);
    expect(summary).toContain('| s399 |');
    expect(summary).toMatch(/^- \*\*s0\*\*: job failed: job failed: Traceback .{900,} …$/m);
    expect(summary).toMatch(/^- … and \d+ more failed stages: see the JUnit report or the contact sheet$/m);
    // 796 edges: Mermaid on GitHub would draw an error box instead.
    expect(summary).toContain("_The graph has 400 stages and 796 edges, more than GitHub's Mermaid draws");
    expect(summary).not.toContain('```mermaid');
    expect(summary).toMatch(/Run record: .*run\.json.* · contact sheet: /);
  });

  it('appends once when --summary names $GITHUB_STEP_SUMMARY itself, and writes nothing when neither is set', async () => {
    const runDir = await failingRun();
    const dir = sb!.standin.dir;
    const step = join(dir, 'step-summary.md');
    writeFileSync(step, 'before\n');
    expect(
      await writeJobSummary(runDir, { file: step, env: { GITHUB_STEP_SUMMARY: step }, cwd: dir }),
    ).toEqual([step]);
    const text = readFileSync(step, 'utf8');
    expect(text.startsWith('before\n### faceswap-pipe')).toBe(true);
    expect(text.match(/### faceswap-pipe/g)).toHaveLength(1);
    expect(await writeJobSummary(runDir, { env: {}, cwd: dir })).toEqual([]);
  });
});
