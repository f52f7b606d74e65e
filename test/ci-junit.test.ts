import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { create } from 'xmlbuilder2';
import { readRunData } from '../src/report/html/run-data.js';
import { renderJunit, writeJunitReport } from '../src/report/junit.js';
import { checkJunitXml } from '../src/report/junit-schema.js';
import { sandbox, type RunnerSandbox } from './helpers/runner.js';

const KONTEXT = 'blackforestlabs/flux-1-kontext/pro/edit';
const NANO = 'google/nano-banana-2/edit';

let sb: RunnerSandbox | undefined;
afterEach(() => {
  sb?.cleanup();
  sb = undefined;
});

/** A fan-out stage whose first item fails, a dependent that is then skipped, and an independent stage retried once. */
const FAN = `version: 1
name: fan
stages:
  gallery:
    model: ${NANO}
    foreach: [a, b, c]
    input: { prompt: "swap \${{ item }}", image_urls: ["https://assets.example.com/\${{ item }}.jpg"] }
  touchup:
    model: ${KONTEXT}
    input: { prompt: touch up, image: "\${{ stages.gallery.outputs[0].images[0] }}" }
  alone:
    model: ${KONTEXT}
    input: { prompt: independent, image: https://assets.example.com/c.jpg }
`;

async function fanRun(): Promise<string> {
  // Steps are taken per model in submission order; with --concurrency 1 the gallery's items go
  // first (the longer chain), in item order, so item 0 takes the failing step.
  const fast = { queueMs: 0, runMs: 50 };
  sb = sandbox({
    models: {
      [NANO]: { base: fast, steps: [{ status: 'failed', error: 'NSFW filter' }] },
      [KONTEXT]: { base: fast, steps: [75] },
    },
  });
  const file = sb.recipe('fan.yaml', FAN);
  const result = await sb.run(['run', file, '--reporter', 'plain', '--concurrency', '1']);
  expect(result.code, result.stderr).toBe(1);
  const runs = join(sb.standin.dir, 'outputs/fan/runs');
  return join(runs, readdirSync(runs).sort().at(-1)!);
}

interface Case {
  name: string;
  children: string[];
  failure?: { message: string; type: string; text: string };
  skipped?: { message: string; type: string };
  out: string;
}

/** The DOM of xmlbuilder2's parse, as far as these checks read it (the project has no DOM types). */
interface Element {
  readonly nodeName: string;
  readonly nodeType: number;
  readonly textContent: string | null;
  readonly attributes: Iterable<{ readonly name: string; readonly value: string }>;
  readonly childNodes: Iterable<Element>;
  getAttribute(name: string): string | null;
}

function casesOf(xml: string): {
  suite: Record<string, string>;
  root: Record<string, string>;
  cases: Case[];
} {
  const doc = create(xml).root().node as unknown as Element;
  const attrs = (el: Element) => Object.fromEntries([...el.attributes].map((a) => [a.name, a.value]));
  const kids = (el: Element) => [...el.childNodes].filter((n): n is Element => n.nodeType === 1);
  const suite = kids(doc)[0]!;
  const cases = kids(suite)
    .filter((c) => c.nodeName === 'testcase')
    .map((c): Case => {
      const children = kids(c);
      const failure = children.find((k) => k.nodeName === 'failure');
      const skipped = children.find((k) => k.nodeName === 'skipped');
      return {
        name: c.getAttribute('name')!,
        children: children.map((k) => k.nodeName),
        ...(failure && {
          failure: {
            message: failure.getAttribute('message')!,
            type: failure.getAttribute('type')!,
            text: failure.textContent ?? '',
          },
        }),
        ...(skipped && {
          skipped: { message: skipped.getAttribute('message')!, type: skipped.getAttribute('type')! },
        }),
        out: children.find((k) => k.nodeName === 'system-out')?.textContent ?? '',
      };
    });
  return { suite: attrs(suite), root: attrs(doc), cases };
}

describe('JUnit report', () => {
  it('has one test case per stage and per fan-out item, and passes the junit-10.xsd check', async () => {
    const runDir = await fanRun();
    const xml = renderJunit(await readRunData(runDir));
    expect(checkJunitXml(xml)).toEqual([]);
    const { root, suite, cases } = casesOf(xml);
    expect(cases.map((c) => c.name)).toEqual(['gallery[0]', 'gallery[1]', 'gallery[2]', 'touchup', 'alone']);
    expect(cases.map((c) => c.children[0])).toEqual([
      'failure',
      'system-out',
      'system-out',
      'skipped',
      'flakyFailure',
    ]);
    expect(root).toMatchObject({ tests: '5', failures: '1', errors: '0' });
    expect(suite).toMatchObject({
      name: 'fan',
      tests: '5',
      failures: '1',
      errors: '0',
      skipped: '1',
      file: 'fan.yaml',
    });
    expect(suite['timestamp']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    // With --concurrency 1, item 0 is rate limited once (flaky), item 1 fails, item 2 passes.
    const [failed, passed, passed2, skipped, flaky] = cases as [Case, Case, Case, Case, Case];
    expect(failed.failure).toEqual({
      message: expect.stringMatching(
        /^job failed: the service reports job [0-9a-f-]{36} failed: "NSFW filter"$/,
      ) as string,
      type: 'job-failed',
      // The message first: GitLab shows only the element's text when it has any.
      text: expect.stringMatching(
        /^job failed: the service reports job [0-9a-f-]{36} failed: "NSFW filter"\n\n\{"error":"request failed: \\"NSFW filter\\""\}$/,
      ) as string,
    });
    expect(failed.children).toEqual(['failure', 'system-out']);
    expect(failed.out).toMatch(
      /^model: google\/nano-banana-2\/edit\nstatus: failed\ncost: paid: 1 job\nattempt 1 item 0: failed \(job-failed\), request [0-9a-f-]{36}, \d+\.\d{3}s\n$/,
    );
    for (const ok of [passed, passed2]) {
      expect(ok.children).toEqual(['system-out']);
      expect(ok.out).toMatch(/file: gallery\/[0-9a-f-]{36}\/result\.png\n$/);
      // The item's own outcome, not its failed stage's.
      expect(ok.out).toContain('status: succeeded\n');
    }
    expect(skipped.skipped).toEqual({
      message: 'needs stage "gallery", which failed',
      type: 'dependency-failed',
    });
    // A stage that succeeded after a retry passes, with the failed attempt as a flakyFailure.
    expect(flaky.children).toEqual(['flakyFailure', 'system-out']);
    expect(xml).toMatch(
      /<flakyFailure message="attempt 1: rate limited \(exit 75\): API error 429[^"]*" type="rate-limited">/,
    );
  });

  it('cleans text XML cannot carry and reports stages the run never reached as skipped', async () => {
    const runDir = await fanRun();
    const path = join(runDir, 'run.json');
    const record = JSON.parse(readFileSync(path, 'utf8')) as {
      stages: Record<string, { attempts: { stderrTail?: string; item: number | null; outcome: string }[] }>;
    };
    const failing = record.stages['gallery']!.attempts.find((a) => a.item === 0 && a.outcome === 'failed')!;
    failing.stderrTail = '\u001b[31mError:\u001b[0m bad\u0000byte';
    delete record.stages['alone'];
    writeFileSync(path, JSON.stringify(record));
    // The graph (as the plan gives it) still names the stage the record lacks.
    const graph = [
      { id: 'gallery', model: NANO, needs: [] },
      { id: 'touchup', model: KONTEXT, needs: ['gallery'] },
      { id: 'alone', model: KONTEXT, needs: [] },
    ];
    const out = await writeJunitReport(runDir, { file: 'reports/junit.xml', cwd: sb!.standin.dir, graph });
    expect(out).toBe(join(sb!.standin.dir, 'reports/junit.xml'));
    const xml = readFileSync(out, 'utf8');
    expect(checkJunitXml(xml)).toEqual([]);
    const { cases } = casesOf(xml);
    expect(cases.find((c) => c.name === 'gallery[0]')!.failure!.text).toMatch(/\n\nError: bad\ufffdbyte$/);
    expect(cases.find((c) => c.name === 'alone')!.skipped).toEqual({
      message: 'not run: the run ended before this stage finished',
      type: 'not-run',
    });
  });
});

describe('an interrupted run', () => {
  it('reports the stage it was interrupted in as an <error>, not a test failure', async () => {
    const runDir = await fanRun();
    const path = join(runDir, 'run.json');
    const record = JSON.parse(readFileSync(path, 'utf8')) as {
      status: string;
      stages: Record<string, { status: string; failure?: Record<string, unknown> }>;
    };
    record.status = 'interrupted';
    record.stages['alone'] = {
      ...record.stages['alone']!,
      status: 'failed',
      failure: { reason: 'interrupted', message: 'cancelled by Ctrl-C', retryable: true },
    };
    writeFileSync(path, JSON.stringify(record));
    const xml = renderJunit(await readRunData(runDir));
    expect(checkJunitXml(xml)).toEqual([]);
    const { suite, cases } = casesOf(xml);
    expect(suite['errors']).toBe('1');
    const alone = cases.find((c) => c.name === 'alone')!;
    expect(alone.children).toContain('error');
    expect(alone.failure).toBeUndefined();
  });
});

describe('the junit-10.xsd check', () => {
  const ok = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="x" tests="1" failures="0" errors="0" time="1.5">
  <testsuite name="s" tests="1" failures="0" errors="0" time="1,234.5">
    <properties><property name="a" value="b"/></properties>
    <testcase name="t" classname="c" time="0.1"><system-out>hi</system-out></testcase>
    <system-out/>
  </testsuite>
</testsuites>`;

  it('accepts a valid report', () => {
    expect(checkJunitXml(ok)).toEqual([]);
  });

  it.each([
    [
      'a missing required attribute',
      ok.replace(' failures="0" errors="0" time="1,234.5"', ' errors="0"'),
      '/testsuites/testsuite[1]: required attribute "failures" is missing',
    ],
    [
      'an attribute the schema does not declare',
      ok.replace('classname="c"', 'classname="c" file="a.yaml"'),
      '/testsuites/testsuite[1]/testcase[1]: attribute "file" is not allowed on <testcase>',
    ],
    [
      'a time that is not SUREFIRE_TIME',
      ok.replace('time="1.5"', 'time="1.5s"'),
      '/testsuites: attribute "time"="1.5s" does not match',
    ],
    [
      'an undeclared element',
      ok.replace('<system-out>hi</system-out>', '<output>hi</output>'),
      '/testsuites/testsuite[1]/testcase[1]: <output> is not allowed in <testcase>',
    ],
    [
      'text where only elements may be',
      ok.replace('<properties>', 'stray<properties>'),
      '/testsuites/testsuite[1]: text is not allowed in <testsuite>',
    ],
    [
      'an element in a text-only element',
      ok.replace('<system-out>hi</system-out>', '<system-out><b/></system-out>'),
      'holds text only',
    ],
    [
      'a rerun without its required type',
      ok.replace('<system-out>hi</system-out>', '<flakyFailure message="m"/>'),
      'required attribute "type" is missing',
    ],
    [
      'a character XML 1.0 forbids',
      ok.replace('hi', 'h\u0001i'),
      'document: character U+0001 is not allowed in XML 1.0',
    ],
    ['another root', '<tests/>', '/tests: the root must be <testsuites> or <testsuite>'],
    [
      'an unclosed element',
      '<testsuites><testsuite></testsuites>',
      'document: not well-formed XML: "</testsuites>" closes <testsuite>',
    ],
    [
      'an unquoted attribute',
      '<testsuites name=x/>',
      'document: not well-formed XML: attribute "name" of <testsuites> is not quoted',
    ],
    ['a bare ampersand', '<testsuites name="a & b"/>', 'document: not well-formed XML: a bare "&"'],
    ['two roots', '<testsuites/><testsuites/>', 'document: not well-formed XML: a second root element'],
  ])('rejects %s', (_what, xml, problem) => {
    const problems = checkJunitXml(xml);
    expect(problems.join('\n')).toContain(problem);
  });

  it('a run refused by validation still writes its JUnit report and job summary, saying why', async () => {
    sb = sandbox();
    const recipe = sb.recipe(
      'bad.yaml',
      'version: 1\nname: bad\nstages:\n  a:\n    model: nope/model\n    retires: 2\n    input: { prompt: p }\n',
    );
    const summary = join(sb.standin.dir, 'step-summary.md');
    const result = await sb.run(['run', recipe, '--reporter', 'plain', '--junit', 'junit.xml'], {
      GITHUB_STEP_SUMMARY: summary,
    });
    expect(result.code).toBe(65);
    const xml = readFileSync(join(sb.standin.dir, 'junit.xml'), 'utf8');
    expect(checkJunitXml(xml)).toEqual([]);
    expect(xml).toContain('<testcase name="validate" classname="bad.yaml"');
    expect(xml).toMatch(
      /<failure message="the recipe was refused \(exit 65\): \d+ problems?" type="invalid-recipe">/,
    );
    expect(xml).toContain('error: unknown model "nope/model"');
    const md = readFileSync(summary, 'utf8');
    expect(md).toContain('### faceswap-pipe: bad.yaml ❌ refused');
    expect(md).toContain('unknown key "retires"');
    expect(sb.standin.readLog()).toEqual([]);
  });

  it('a run refused for its state or its client (nothing ran) writes the reports and an annotation too', async () => {
    sb = sandbox();
    const recipe = sb.recipe(
      'two.yaml',
      `version: 1
name: two
stages:
  a:
    model: ${KONTEXT}
    input: { prompt: Change the background, image: https://assets.example.com/a.jpg }
  b:
    model: ${KONTEXT}
    input: { prompt: Again, image: "\${{ stages.a.outputs.images[0] }}" }
`,
    );
    const summary = join(sb.standin.dir, 'step-summary.md');
    const env = { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary };
    // b alone, and a never ran: refused (65) before anything is called.
    const only = await sb.run(['run', recipe, '--only', 'b', '--junit', 'junit.xml'], env);
    expect(only.code).toBe(65);
    const xml = readFileSync(join(sb.standin.dir, 'junit.xml'), 'utf8');
    expect(checkJunitXml(xml)).toEqual([]);
    expect(xml).toContain('<testcase name="run" classname="two.yaml"');
    expect(xml).toContain('<failure message="the run was refused (exit 65): 1 problem" type="run-refused">');
    expect(xml).toContain('stage "b" needs the results of stage "a"');
    expect(readFileSync(summary, 'utf8')).toContain('The run was refused before anything ran (exit 65)');
    expect(only.stderr).toMatch(
      /^::error title=faceswap-pipe%3A run refused::faceswap-pipe: error: stage "b" needs/m,
    );
    // The client cannot be run: 69, the same reports.
    const missing = await sb.run(
      ['run', recipe, '--junit', 'junit.xml', '--runcomfy', '/nonexistent/runcomfy'],
      env,
    );
    expect(missing.code).toBe(69);
    expect(readFileSync(join(sb.standin.dir, 'junit.xml'), 'utf8')).toContain(
      'cannot run the runcomfy client',
    );
    expect(sb.standin.readLog()).toEqual([]);
  });
});
