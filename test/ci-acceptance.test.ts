import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/catalog.js';
import { buildPlan } from '../src/plan/plan.js';
import { analyzeRecipeFile } from '../src/recipe/analyze.js';
import { GithubReporter, stageLocations } from '../src/report/github-reporter.js';
import { graphOf } from '../src/report/html/run-data.js';
import { writeRunReport } from '../src/report/html/write-run-report.js';
import { writeJunitReport } from '../src/report/junit.js';
import { checkJunitXml } from '../src/report/junit-schema.js';
import { writeJobSummary } from '../src/report/summary-md.js';
import type { RunEvent } from '../src/run/events.js';
import { sandbox, type RunnerSandbox } from './helpers/runner.js';

/**
 * The acceptance, GitHub Actions side: a run of an example recipe with one failing
 * stage under GITHUB_ACTIONS=true prints annotations with file and line, writes the summary
 * table and the Mermaid graph to $GITHUB_STEP_SUMMARY, and `--junit` writes a report that the
 * JUnit schema check accepts; `faceswap-pipe report` then makes the page.
 *
 * The run command does not call these outputs yet (run.ts belongs to the runner's rewrite), so
 * the run's events are taken as NDJSON and given to the GitHub reporter, and the summary and
 * JUnit writers are called with the run folder: the same calls run.ts is to make.
 */

const KONTEXT = 'blackforestlabs/flux-1-kontext/pro/edit';
const KLING = 'kling/kling-2-6/motion-control-pro';
const EXAMPLE = readFileSync(new URL('../recipes/kontext-to-kling.yaml', import.meta.url), 'utf8');

let sb: RunnerSandbox | undefined;
afterEach(() => {
  sb?.cleanup();
  sb = undefined;
});

/** 1-based line of the first line of `text` that starts with `prefix` (after indentation). */
function lineOf(text: string, prefix: string): number {
  return text.split('\n').findIndex((l) => l.trimStart().startsWith(prefix)) + 1;
}

describe('acceptance: CI-native output under GitHub Actions', () => {
  it('annotates, summarises and reports a run of the example with one failing stage', async () => {
    sb = sandbox({
      models: {
        [KONTEXT]: { steps: [75] },
        [KLING]: { steps: [{ status: 'failed', error: 'motion model crashed' }] },
      },
    });
    const dir = sb.standin.dir;
    const file = sb.recipe('recipes/kontext-to-kling.yaml', EXAMPLE);
    const stepSummary = join(dir, 'github', 'step_summary.md');
    const github = { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: stepSummary, GITHUB_WORKSPACE: dir };
    const env = { ...sb.standin.env, ...github };

    const result = await sb.run(['run', file, '--reporter', 'json'], github);
    expect(result.code).toBe(1);
    const events = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as RunEvent);
    const runs = join(dir, 'outputs/summer-launch/runs');
    const runDir = join(runs, readdirSync(runs).sort().at(-1)!);

    // What run.ts is to do: the GitHub reporter, then the summary and JUnit from the run folder.
    const catalog = Catalog.load([]);
    const analysis = await analyzeRecipeFile(file, { catalog, sets: [], maxBytes: 1 << 20, cwd: dir });
    const plan = buildPlan(analysis.recipe!, catalog);
    let log = '';
    const reporter = new GithubReporter(
      { write: (t) => void (log += t) },
      { env, stageLocations: stageLocations(analysis.recipe!, { cwd: dir, env }) },
    );
    for (const e of events) reporter.event(e);
    reporter.close();
    expect(await writeJobSummary(runDir, { env, cwd: dir, graph: graphOf(plan) })).toEqual([stepSummary]);
    const junit = await writeJunitReport(runDir, { file: 'junit.xml', cwd: dir, graph: graphOf(plan) });

    // Annotations with the recipe's file and line: the failure and the retry on their stages.
    const motionLine = lineOf(EXAMPLE, 'motion:');
    const faceLine = lineOf(EXAMPLE, 'face:');
    const lines = log.split('\n');
    expect(lines[0]).toBe('::add-mask::standin-token');
    expect(lines.filter((l) => l.startsWith('::error '))).toEqual([
      expect.stringMatching(
        new RegExp(
          `^::error file=recipes/kontext-to-kling\\.yaml,line=${motionLine},col=3,endLine=${motionLine},endColumn=8,title=Stage motion failed%3A job failed after 1 attempt::the service reports job [0-9a-f-]{36} failed: "motion model crashed"`,
        ),
      ),
    ]);
    expect(lines.filter((l) => l.startsWith('::warning '))).toEqual([
      expect.stringMatching(
        new RegExp(
          `^::warning file=recipes/kontext-to-kling\\.yaml,line=${faceLine},col=3,endLine=${faceLine},endColumn=6,title=Retry%3A face attempt 1 rate limited::`,
        ),
      ),
    ]);
    expect(lines.filter((l) => l.startsWith('::group::'))).toHaveLength(2);

    // The job summary: the stage table and the Mermaid graph.
    const summary = readFileSync(stepSummary, 'utf8');
    expect(summary).toContain('| stage | status | model | attempts | time | cost |');
    expect(summary).toMatch(
      /\| face \| ✅ succeeded \| `blackforestlabs\/flux-1-kontext\/pro\/edit` \| 2 \| [^|]+ \| paid: 1 job \|/,
    );
    expect(summary).toMatch(
      /\| motion \| ❌ failed: job failed \| `kling\/kling-2-6\/motion-control-pro` \| 1 \| [^|]+ \| paid: 1 job \|/,
    );
    expect(summary).toContain('```mermaid\nflowchart LR\n');
    expect(summary).toContain('  s0 --> s1\n');

    // JUnit that the junit-10.xsd check accepts, with the failure in it.
    const xml = readFileSync(junit, 'utf8');
    expect(checkJunitXml(xml)).toEqual([]);
    expect(xml).toContain('<testsuite name="summer-launch" tests="2" failures="1" errors="0" skipped="0"');
    expect(xml).toMatch(
      /<failure message="job failed: the service reports job [0-9a-f-]{36} failed: &quot;motion model crashed&quot;" type="job-failed">/,
    );

    // `faceswap-pipe report` on that run makes the page.
    const report = await sb.run(['report'], github);
    expect(report.code, report.stderr).toBe(0);
    expect(existsSync(join(runDir, 'report.html'))).toBe(true);
    // The writer run.ts is to call gives the same page.
    expect((await writeRunReport(runDir, { graph: graphOf(plan), env })).path).toBe(
      join(runDir, 'report.html'),
    );
  });

  it('annotates recipe problems in the example on their lines when a run is refused', async () => {
    sb = sandbox();
    const broken = EXAMPLE.replace('    retries: 1\n', '    retires: 1\n');
    expect(broken).not.toBe(EXAMPLE);
    const file = sb.recipe('recipes/kontext-to-kling.yaml', broken);
    const result = await sb.run(['run', file], { GITHUB_ACTIONS: 'true', GITHUB_WORKSPACE: sb.standin.dir });
    expect(result.code).toBe(65);
    const line = lineOf(broken, 'retires:');
    expect(result.stderr).toContain(
      `::error file=recipes/kontext-to-kling.yaml,line=${line},col=5,endLine=${line},endColumn=11,title=faceswap-pipe (unknown-key)::unknown key "retires" in stage "motion"; did you mean "retries"?\n`,
    );
    expect(sb.submissions()).toEqual([]);
  });
});

describe('acceptance: the real run command under GitHub Actions', () => {
  it('prints annotations and groups, writes the step summary, --junit and report.html', async () => {
    sb = sandbox({
      models: {
        [KONTEXT]: { steps: [75] },
        [KLING]: { steps: [{ status: 'failed', error: 'motion model crashed' }] },
      },
    });
    const dir = sb.standin.dir;
    const file = sb.recipe('recipes/kontext-to-kling.yaml', EXAMPLE);
    const stepSummary = join(dir, 'github', 'step_summary.md');
    const github = { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: stepSummary, GITHUB_WORKSPACE: dir };
    const result = await sb.run(['run', file, '--junit', 'junit.xml'], github);
    expect(result.code).toBe(1);
    expect(result.stdout.startsWith('::add-mask::standin-token')).toBe(true);
    expect(result.stdout).toContain(
      `::error file=recipes/kontext-to-kling.yaml,line=${lineOf(EXAMPLE, 'motion:')}`,
    );
    expect(result.stdout.match(/^::group::/gm)?.length).toBe(2);
    const summary = readFileSync(stepSummary, 'utf8');
    expect(summary).toContain('| stage |');
    expect(summary).toContain('```mermaid');
    expect(checkJunitXml(readFileSync(join(dir, 'junit.xml'), 'utf8'))).toEqual([]);
    const runs = join(dir, 'outputs', 'summer-launch', 'runs');
    expect(existsSync(join(runs, readdirSync(runs).sort().at(-1)!, 'report.html'))).toBe(true);
  });
});
