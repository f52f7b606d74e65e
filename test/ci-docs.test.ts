import { readFileSync } from 'node:fs';
import { register } from 'node:module';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from './helpers/cli.js';

/**
 * The workflows in docs/ci.md are meant to be copied as they are, so they are linted here: the
 * GitHub one with GitHub's own parser, the GitLab one for the structure GitLab requires, and
 * every `faceswap-pipe` command line in both against the CLI's real options.
 */

// @actions/workflow-parser imports its schema JSON without an import attribute, which Node's
// own loader refuses; this hook adds the attribute for that package's JSON files only.
register(
  'data:text/javascript,' +
    encodeURIComponent(`export async function load(url, context, next) {
  if (url.endsWith('.json') && url.includes('/@actions/workflow-parser/'))
    return next(url, { ...context, importAttributes: { type: 'json' } });
  return next(url, context);
}`),
);
const { parseWorkflow, convertWorkflowTemplate, NoOperationTraceWriter } =
  await import('@actions/workflow-parser');

interface Block {
  readonly lang: string;
  readonly file: string | undefined;
  readonly text: string;
  readonly line: number;
}

/** Fenced code blocks, found line by line (a ``` inside a line does not close a fence). */
function codeBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[1]!;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !new RegExp(`^${fence}\\s*$`).test(lines[j]!)) body.push(lines[j++]!);
    const first = /^#\s*(\S+)\s*$/.exec(body[0] ?? '');
    blocks.push({ lang: open[2]!, file: first?.[1], text: body.join('\n') + '\n', line: i + 2 });
    i = j;
  }
  return blocks;
}

const doc = readFileSync(new URL('../docs/ci.md', import.meta.url), 'utf8');
const yamlBlocks = codeBlocks(doc).filter((b) => b.lang === 'yaml');
const github = yamlBlocks.filter((b) => b.file?.startsWith('.github/workflows/'));
const gitlab = yamlBlocks.filter((b) => b.file === '.gitlab-ci.yml');

/** `npx faceswap-pipe …` command lines in a block, as argv. */
function faceswapCommands(text: string): string[][] {
  return [...text.matchAll(/npx faceswap-pipe ([^\n>|]+)/g)].map((m) =>
    m[1]!
      .trim()
      .split(/\s+/)
      .map((a) => a.replace(/^"|"$/g, '')),
  );
}

async function workflowErrors(name: string, content: string, jobs: string[] = []): Promise<string[]> {
  const result = parseWorkflow({ name, content }, new NoOperationTraceWriter());
  if (result.value) {
    const template = await convertWorkflowTemplate(result.context, result.value);
    for (const job of template.jobs ?? []) jobs.push(job.id.value);
  }
  return result.context.errors.getErrors().map((e) => e.message);
}

describe('docs/ci.md', () => {
  it('has one GitHub Actions workflow and one GitLab CI file, each named in its first line', () => {
    expect(github).toHaveLength(1);
    expect(gitlab).toHaveLength(1);
  });

  it('the GitHub workflow passes GitHub’s workflow parser with no errors', async () => {
    const block = github[0]!;
    const jobs: string[] = [];
    expect(await workflowErrors(block.file!, block.text, jobs)).toEqual([]);
    expect(jobs).toEqual(['check', 'render']);
    const workflow = parse(block.text) as {
      jobs: Record<
        string,
        {
          steps: {
            uses?: string;
            run?: string;
            if?: string;
            env?: Record<string, string>;
            with?: Record<string, string>;
          }[];
        }
      >;
    };
    const steps = Object.values(workflow.jobs).flatMap((j) => j.steps);
    const uses = steps.map((s) => s.uses).filter(Boolean);
    // Install, cache the state folder (restored, and saved even on failure), token from secrets, artifacts.
    expect(steps.some((s) => s.run === 'npm ci')).toBe(true);
    expect(uses).toContain('actions/cache/restore@v4');
    const save = steps.find((s) => s.uses === 'actions/cache/save@v4');
    expect(save?.if).toBe('always()');
    expect(save?.with?.['path']).toContain('recipes/.faceswap');
    expect(save?.with?.['path']).toContain('outputs');
    const render = steps.find((s) => s.run?.includes('faceswap-pipe run'));
    expect(render?.env?.['RUNCOMFY_TOKEN']).toBe('${{ secrets.RUNCOMFY_TOKEN }}');
    const upload = steps.find((s) => s.uses === 'actions/upload-artifact@v4');
    expect(upload?.if).toBe('always()');
    expect(upload?.with?.['path']).toContain('outputs/');
  });

  it('the workflow check would catch a broken workflow (the parser is really consulted)', async () => {
    const broken = github[0]!.text
      .replace('runs-on: ubuntu-latest', 'runs_on: ubuntu-latest')
      .replace('${{ secrets.RUNCOMFY_TOKEN }}', '${{ secret.RUNCOMFY_TOKEN }}');
    const errors = await workflowErrors('broken.yml', broken);
    expect(errors.join('\n')).toMatch(/runs_on/);
    expect(errors.join('\n')).toMatch(/secret/);
  });

  it('the GitLab file has the structure GitLab requires', () => {
    const config = parse(gitlab[0]!.text) as Record<string, unknown>;
    const reserved = new Set([
      'stages',
      'default',
      'variables',
      'workflow',
      'include',
      'image',
      'services',
      'cache',
      'before_script',
      'after_script',
    ]);
    const stages = config['stages'] as string[];
    expect(Array.isArray(stages)).toBe(true);
    const jobs = Object.entries(config).filter(([k]) => !reserved.has(k) && !k.startsWith('.'));
    expect(jobs.map(([k]) => k)).toEqual(['check', 'render']);
    const jobKeys = new Set([
      'stage',
      'script',
      'rules',
      'cache',
      'artifacts',
      'image',
      'variables',
      'timeout',
      'interruptible',
      'resource_group',
      'needs',
      'before_script',
      'after_script',
      'tags',
      'when',
      'allow_failure',
      'retry',
    ]);
    for (const [name, job] of jobs as [string, Record<string, unknown>][]) {
      for (const key of Object.keys(job)) expect(jobKeys.has(key), `${name}.${key}`).toBe(true);
      expect(stages).toContain(job['stage']);
      const script = job['script'] as unknown[];
      expect(script.length, `${name}.script`).toBeGreaterThan(0);
      for (const line of script) expect(typeof line).toBe('string');
      for (const rule of (job['rules'] as Record<string, unknown>[] | undefined) ?? [])
        for (const key of Object.keys(rule))
          expect(['if', 'changes', 'when', 'exists', 'variables', 'allow_failure']).toContain(key);
      const caches = (
        Array.isArray(job['cache']) ? job['cache'] : job['cache'] ? [job['cache']] : []
      ) as Record<string, unknown>[];
      for (const c of caches) {
        expect(
          Object.keys(c).every((k) =>
            ['key', 'paths', 'when', 'policy', 'untracked', 'fallback_keys', 'unprotect'].includes(k),
          ),
        ).toBe(true);
        expect(Array.isArray(c['paths'])).toBe(true);
        if (c['when'] !== undefined) expect(['on_success', 'on_failure', 'always']).toContain(c['when']);
      }
    }
    const render = config['render'] as {
      cache: { key: string; paths: string[]; when?: string }[];
      artifacts: { when: string; paths: string[]; reports: { junit: string } };
      script: string[];
    };
    const state = render.cache.find((c) => c.paths.includes('recipes/.faceswap/'));
    expect(state?.paths).toContain('outputs/');
    expect(state?.when).toBe('always');
    expect(render.artifacts.when).toBe('always');
    expect(render.artifacts.paths).toContain('outputs/');
    expect(render.artifacts.reports.junit).toBe('junit.xml');
    expect(render.script.some((l) => l.includes('--junit junit.xml'))).toBe(true);
    // The token comes from a CI/CD variable, never from the file.
    expect(gitlab[0]!.text).not.toMatch(/RUNCOMFY_TOKEN\s*:/);
  });

  it('every faceswap-pipe command line in the examples uses options the CLI has', async () => {
    const commands = [...github, ...gitlab].flatMap((b) => faceswapCommands(b.text));
    expect(commands.length).toBeGreaterThanOrEqual(5);
    for (const argv of commands) {
      const help = await runCli([argv[0]!, '--help']);
      expect(help.code, argv.join(' ')).toBe(0);
      for (const option of argv.filter((a) => a.startsWith('--')))
        expect(help.stdout, `${argv.join(' ')}: ${option}`).toContain(option);
    }
  });
});
