// The `runcomfy` stand-in follows the client contract (/work/shared/runcomfy-contract.md).
// Every case runs the stand-in as a real process, found on PATH through the harness, and treats
// a failed process as data (`reject: false`). No timing assertions: lifecycle tests poll until a
// state is reached, with generous, bounded deadlines.

import fs from 'node:fs';
import path from 'node:path';
import { execa, type Result } from 'execa';
import { afterAll, describe, expect, test } from 'vitest';
import { createStandin, type Scenario, type Standin, type StandinOptions } from './standin/harness.js';

const sandboxes: Standin[] = [];
afterAll(() => sandboxes.forEach((sandbox) => sandbox.cleanup()));

function sandbox(options?: StandinOptions): Standin {
  const created = createStandin(options);
  sandboxes.push(created);
  return created;
}

type Run = Result<{ reject: false }>;

/** Run `runcomfy` from the sandbox folder; stdin is empty unless `input` is given. */
function runcomfy(sb: Standin, args: string[], input?: string): Promise<Run> {
  return execa('runcomfy', args, {
    env: sb.env,
    cwd: sb.dir,
    reject: false,
    ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
  });
}

function lines(text: string): string[] {
  return text === '' ? [] : text.split('\n');
}

function lastLine(text: string): string {
  return lines(text).at(-1) ?? '';
}

/** Submit with --no-wait in json mode and return the request id. */
async function submit(sb: Standin, model = 'acme/model', extra: string[] = []): Promise<string> {
  const result = await runcomfy(sb, ['--output', 'json', 'run', model, '--no-wait', ...extra]);
  expect(result.exitCode, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { request_id: string }).request_id;
}

async function statusOf(sb: Standin, id: string): Promise<Record<string, unknown>> {
  const result = await runcomfy(sb, ['--output', 'json', 'status', id]);
  expect(result.exitCode, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

/** Poll `status` until it reports `wanted`; fail after `deadlineMs`. */
async function waitForStatus(sb: Standin, id: string, wanted: string, deadlineMs = 20_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const { status } = await statusOf(sb, id);
    if (status === wanted) return;
    if (Date.now() > deadline) throw new Error(`request ${id} still ${String(status)}, never ${wanted}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A scenario where every submission to any model behaves as `step` says. */
function always(step: NonNullable<Scenario['models']>[string]['base']): Scenario {
  return { models: { default: { base: step } } };
}

/** Finished on the first poll: wait-mode runs end without sleeping. */
const INSTANT = { queueMs: 0, runMs: 0 } as const;

describe('parsing', () => {
  const usageCases: [string, string[]][] = [
    ['--timeout is not a flag', ['run', 'a/b', '--timeout', '5']],
    ['--json is not a flag', ['run', 'a/b', '--json']],
    ['--wait is not a flag', ['run', 'a/b', '--wait']],
    ['missing model id', ['run']],
    ['missing request id', ['status']],
    ['--input with --input-file', ['run', 'a/b', '--input', '{}', '--input-file', 'body.json']],
    ['bad --output', ['run', 'a/b', '--output=xml']],
    ['negative --poll-secs', ['run', 'a/b', '--poll-secs', '-1']],
    ['fractional --poll-secs', ['run', 'a/b', '--poll-secs=1.5']],
    ['-q with -v', ['-q', 'run', 'a/b', '-v']],
    ['unknown subcommand', ['frobnicate']],
    ['run flag before the subcommand', ['--no-wait', 'run', 'a/b']],
  ];

  test.each(usageCases)('%s → exit 2 with plain parser text, in json mode too', async (_name, args) => {
    const sb = sandbox();
    for (const mode of [[], ['--output', 'json']]) {
      const result = await runcomfy(sb, [...mode, ...args]);
      expect(result.exitCode).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^error: /);
      expect(result.stderr).not.toMatch(/^\{/m);
    }
    expect(sb.readLog().every((record) => record.exit === 2 && record.submission === null)).toBe(true);
  });

  test('global flags go anywhere, values as --flag=value or --flag value', async () => {
    const sb = sandbox();
    const result = await runcomfy(sb, ['run', '-v', 'a/b', '--no-wait', '--output=json']);
    expect(result.exitCode).toBe(0);
    expect(lines(result.stdout)).toHaveLength(1);
    // -v lines show in json mode; progress lines do not.
    expect(lines(result.stderr)).toEqual(['[v] Model API base: https://model-api.runcomfy.net/v1']);
  });

  test('--version and -V print the version line, exit 0', async () => {
    const sb = sandbox();
    for (const flag of ['--version', '-V']) {
      const result = await runcomfy(sb, [flag]);
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toMatch(/^runcomfy \d+\.\d+\.\d+ \([^,]+, [^)]+\)$/);
    }
  });
});

describe('order of local checks (§1)', () => {
  test('a model id without / wins over a missing file and a missing token (65)', async () => {
    const sb = sandbox({ token: null });
    const result = await runcomfy(sb, ['run', 'no-slash', '--input-file', 'missing.json']);
    expect(result.exitCode).toBe(65);
    expect(result.stderr).toContain('is not a valid model_id');
  });

  test('a missing input file exits 66, before the token check', async () => {
    const sb = sandbox({ token: null });
    const result = await runcomfy(sb, ['--output', 'json', 'run', 'a/b', '--input-file', 'missing.json']);
    expect(result.exitCode).toBe(66);
    expect(JSON.parse(lastLine(result.stderr))).toEqual({ error: 'read --input-file file missing.json' });
  });

  test('bad JSON and non-object JSON exit 65, before the token check', async () => {
    const sb = sandbox({ token: null });
    const bad = await runcomfy(sb, ['run', 'a/b', '--input', '{"prompt":']);
    expect(bad.exitCode).toBe(65);
    expect(bad.stderr).toMatch(/^Error: invalid input JSON: --input: /);
    const array = await runcomfy(sb, ['run', 'a/b', '--input', '[1, 2]']);
    expect(array.exitCode).toBe(65);
    expect(array.stderr).toBe('Error: invalid input JSON: --input must be a JSON object, got an array');
    const fromStdin = await runcomfy(sb, ['run', 'a/b', '--input-file', '-'], '"just a string"');
    expect(fromStdin.exitCode).toBe(65);
  });

  test('no token anywhere exits 77; a malformed token.json exits 1; a good one works', async () => {
    const sb = sandbox({ token: null });
    const none = await runcomfy(sb, ['run', 'a/b', '--input', '{}']);
    expect(none.exitCode).toBe(77);
    expect(none.stderr).toMatch(/^Error: not signed in/);

    fs.writeFileSync(path.join(sb.configDir, 'token.json'), '{"access_token": ');
    const malformed = await runcomfy(sb, ['run', 'a/b']);
    expect(malformed.exitCode).toBe(1);
    expect(malformed.stderr).toMatch(/^Error: parse token\.json: /);

    fs.writeFileSync(path.join(sb.configDir, 'token.json'), '{"access_token": "from-file"}');
    expect((await runcomfy(sb, ['run', 'a/b', '--no-wait'])).exitCode).toBe(0);
    expect(sb.readLog().map((record) => record.created)).toEqual([false, false, true]);
  });
});

describe('--no-wait (§4)', () => {
  test('pretty: indented {"request_id", "wait": false}; request id also on stderr', async () => {
    const sb = sandbox();
    const result = await runcomfy(
      sb,
      ['run', 'acme/model', '--input-file', '-', '--no-wait'],
      '{"prompt": "hi"}',
    );
    expect(result.exitCode).toBe(0);
    const { request_id: id } = JSON.parse(result.stdout) as { request_id: string };
    expect(result.stdout).toBe(`{\n  "request_id": "${id}",\n  "wait": false\n}`);
    expect(lines(result.stderr)).toEqual([
      '[submit] Submitting request to acme/model',
      `   request_id: ${id}`,
    ]);
    expect(sb.readLog()[0]).toMatchObject({
      command: 'run',
      body: { prompt: 'hi' },
      request_id: id,
      created: true,
    });
  });

  test('json: one compact line, nothing on stderr', async () => {
    const sb = sandbox();
    const result = await runcomfy(sb, ['--output', 'json', 'run', 'acme/model', '--no-wait']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^\{"request_id":"[^"]+","wait":false\}$/);
    expect(result.stderr).toBe('');
  });
});

describe('job lifecycle across processes (§4, §8)', () => {
  test('status goes in_queue → in_progress → completed; result of an unfinished job is its record, exit 0', async () => {
    const sb = sandbox({ scenario: always({ queueMs: 2500, runMs: 2500, queuePosition: 3 }) });
    const id = await submit(sb);
    const seen: string[] = [];
    let checkedUnfinishedResult = false;
    const deadline = Date.now() + 30_000;
    while (seen.at(-1) !== 'completed' && Date.now() < deadline) {
      const status = await statusOf(sb, id);
      expect(Object.keys(status)).toEqual([
        'queue_position',
        'request_id',
        'result_url',
        'status',
        'status_url',
      ]);
      if (status.status === 'in_queue') expect(status.queue_position).toEqual(expect.any(Number));
      else expect(status.queue_position).toBeNull();
      if (seen.at(-1) !== status.status) seen.push(String(status.status));

      if (!checkedUnfinishedResult) {
        const result = await runcomfy(sb, ['--output', 'json', 'result', id]);
        expect(result.exitCode).toBe(0);
        const record = JSON.parse(result.stdout) as Record<string, unknown>;
        expect(['in_queue', 'in_progress']).toContain(record.status);
        expect(record).toMatchObject({ request_id: id, output: null, error: null, finished_at: null });
        checkedUnfinishedResult = true;
      }
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    expect(seen).toEqual(['in_queue', 'in_progress', 'completed']);

    const done = await runcomfy(sb, ['--output', 'json', 'result', id, '--no-download']);
    expect(done.exitCode).toBe(0);
    const record = JSON.parse(done.stdout) as Record<string, unknown>;
    expect(Object.keys(record)).toEqual([
      'created_at',
      'error',
      'finished_at',
      'output',
      'request_id',
      'status',
    ]);
    expect(record).toMatchObject({
      status: 'completed',
      output: { images: [`https://files.runcomfy.net/${id}/result.png`] },
    });
  });

  test('a failed job: result prints the record then fails (1); wait-mode run prints nothing on stdout', async () => {
    const sb = sandbox({
      scenario: always({ ...INSTANT, status: 'failed', error: { code: 'OOM', message: 'out of memory' } }),
    });
    const id = await submit(sb);
    const result = await runcomfy(sb, ['--output', 'json', 'result', id]);
    expect(result.exitCode).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({
      status: 'failed',
      error: { code: 'OOM' },
      output: null,
    });
    expect(JSON.parse(lastLine(result.stderr))).toEqual({
      error: 'request failed: {"code":"OOM","message":"out of memory"}',
    });

    const run = await runcomfy(sb, ['run', 'acme/model']);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toBe('');
    expect(lastLine(run.stderr)).toBe('Error: request failed: {"code":"OOM","message":"out of memory"}');
  });

  test('the §6 sniffing quirk is off by default and on with sniffErrors', async () => {
    const step = { ...INSTANT, status: 'failed', error: 'worker timeout' } as const;
    const plain = await runcomfy(sandbox({ scenario: always(step) }), ['run', 'a/b']);
    expect(plain.exitCode).toBe(1);
    const sniffing = await runcomfy(sandbox({ scenario: { ...always(step), sniffErrors: true } }), [
      'run',
      'a/b',
    ]);
    expect(sniffing.exitCode).toBe(75);
    expect(lastLine(sniffing.stderr)).toBe('Error: request failed: "worker timeout"');
  });

  test('cancel: a queued job is cancelled; a running one is not_cancellable and keeps running (both exit 0)', async () => {
    const queued = sandbox({ scenario: always({ queueMs: null }) });
    const queuedId = await submit(queued);
    const cancel = await runcomfy(queued, ['--output', 'json', 'cancel', queuedId]);
    expect(cancel.exitCode).toBe(0);
    expect(cancel.stdout).toBe(`{"outcome":"cancelled","request_id":"${queuedId}","status":"cancelled"}`);
    expect((await statusOf(queued, queuedId)).status).toBe('cancelled');
    const result = await runcomfy(queued, ['requests', 'result', queuedId]);
    expect(result.exitCode).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'cancelled' });
    expect(lastLine(result.stderr)).toBe('Error: request cancelled');

    const running = sandbox({ scenario: always({ queueMs: 0, runMs: null }) });
    const runningId = await submit(running);
    const refused = await runcomfy(running, ['requests', 'cancel', runningId]);
    expect(refused.exitCode).toBe(0);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toBe(`[info] ${runningId} is already terminal (in_progress); cancel is a no-op`);
    const after = await runcomfy(running, ['requests', 'get', runningId]);
    expect(after.stdout).toContain('status:     in_progress');
  });

  test('an unknown request id is an HTTP 404 → 65 for status, result and cancel', async () => {
    const sb = sandbox();
    for (const command of ['status', 'result', 'cancel']) {
      const result = await runcomfy(sb, ['--output', 'json', command, 'no-such-request']);
      expect(result.exitCode).toBe(65);
      expect(JSON.parse(lastLine(result.stderr))).toEqual({ error: `API error 404: ${command} not found` });
    }
  });

  test('wait-mode run prints only `output`, keys sorted at every level, before downloading', async () => {
    const output = { zeta: 1, alpha: { b: [{ y: 1, x: 2 }], a: null }, '10': 'ten', '2': 'two' };
    const sb = sandbox({ scenario: always({ ...INSTANT, output }) });
    const pretty = await runcomfy(sb, ['run', 'acme/model']);
    expect(pretty.exitCode).toBe(0);
    expect(pretty.stdout).toBe(
      [
        '{',
        '  "10": "ten",',
        '  "2": "two",',
        '  "alpha": {',
        '    "a": null,',
        '    "b": [',
        '      {',
        '        "x": 2,',
        '        "y": 1',
        '      }',
        '    ]',
        '  },',
        '  "zeta": 1',
        '}',
      ].join('\n'),
    );
    const id = sb.readLog()[0]?.request_id;
    expect(lines(pretty.stderr)).toEqual([
      '[submit] Submitting request to acme/model',
      `   request_id: ${id}`,
      '[poll] Polling status (every 2s)...',
      '   completed',
      '[ok] completed',
    ]);

    const json = await runcomfy(sb, ['run', 'acme/model', '--output', 'json']);
    expect(json.stdout).toBe('{"10":"ten","2":"two","alpha":{"a":null,"b":[{"x":2,"y":1}]},"zeta":1}');
    expect(json.stderr).toBe('');
  });
});

describe('downloads (§5)', () => {
  const output = {
    images: [
      'https://files.runcomfy.net/{request_id}/a/result.png?sig=abc',
      'https://files.runcomfy.net/{request_id}/b/result.png#fragment',
      'https://files.runcomfy.net/{request_id}/a/result.png?sig=abc',
      'http://evil.example.com/x.png',
      'https://127.0.0.1/x.png',
    ],
    meta: { poster: 'https://cdn.runcomfy.com/p/poster.jpg', note: 'not a url', count: 3 },
    archive: 'https://files.runcomfy.net/{request_id}/bundle.tar.gz/',
  };

  test('trusted URLs only, named by the last segment, never overwriting; exit 0', async () => {
    const sb = sandbox({ scenario: always({ ...INSTANT, output }) });
    fs.mkdirSync(path.join(sb.dir, 'out'));
    fs.writeFileSync(path.join(sb.dir, 'out', 'bundle.tar.gz'), 'already here');

    const result = await runcomfy(sb, ['run', 'acme/model', '--output-dir', 'out']);
    expect(result.exitCode).toBe(0);
    const stderr = lines(result.stderr);
    expect(stderr.slice(stderr.indexOf('[ok] completed'))).toEqual([
      '[ok] completed',
      '[skip] Skipped 2 URL(s) outside trusted hosts (downloads disabled for non-RunComfy CDNs)',
      '   (not downloaded) http://evil.example.com/x.png',
      '   (not downloaded) https://127.0.0.1/x.png',
      '[download] Downloading 4 file(s) to out',
      '   out/bundle.tar-1.gz',
      '   out/result.png',
      '   out/result-1.png',
      '   out/poster.jpg',
    ]);
    const dir = path.join(sb.dir, 'out');
    expect(fs.readdirSync(dir).sort()).toEqual(
      ['bundle.tar-1.gz', 'bundle.tar.gz', 'poster.jpg', 'result-1.png', 'result.png'].sort(),
    );
    const first = fs.readFileSync(path.join(dir, 'result.png'));
    const second = fs.readFileSync(path.join(dir, 'result-1.png'));
    expect(first.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(first.equals(second)).toBe(false); // placeholder bytes differ per URL
    expect(fs.readFileSync(path.join(dir, 'poster.jpg')).subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
  });

  test('--no-download fetches nothing and creates no folder; untrusted-only output creates none either', async () => {
    const sb = sandbox({ scenario: always({ ...INSTANT, output }) });
    const skipped = await runcomfy(sb, ['run', 'acme/model', '--output-dir', 'none', '--no-download']);
    expect(skipped.exitCode).toBe(0);
    expect(skipped.stderr).not.toContain('[download]');
    expect(fs.existsSync(path.join(sb.dir, 'none'))).toBe(false);

    sb.writeScenario(always({ ...INSTANT, output: { images: ['https://example.com/a.png'] } }));
    const untrusted = await runcomfy(sb, ['run', 'acme/model', '--output-dir', 'untrusted']);
    expect(untrusted.exitCode).toBe(0);
    expect(untrusted.stderr).toContain('[skip] Skipped 1 URL(s) outside trusted hosts');
    expect(fs.existsSync(path.join(sb.dir, 'untrusted'))).toBe(false);
  });

  test('fixture bytes and scripted download failures (file absent, ⚠ line, still exit 0), via `result` too', async () => {
    const face = 'https://files.runcomfy.net/{request_id}/face.png';
    const broken = 'https://files.runcomfy.net/{request_id}/broken.png';
    const sb = sandbox({
      scenario: {
        ...always({ ...INSTANT, output: { images: [face, broken] } }),
        downloads: { [face]: { file: 'fixtures/face.png' }, [broken]: { fail: 'http' } },
      },
    });
    fs.mkdirSync(path.join(sb.dir, 'fixtures'));
    fs.writeFileSync(path.join(sb.dir, 'fixtures', 'face.png'), 'fixture bytes');

    const id = await submit(sb);
    await waitForStatus(sb, id, 'completed');
    const result = await runcomfy(sb, ['result', id, '--output-dir', 'out']);
    expect(result.exitCode).toBe(0);
    const brokenUrl = broken.replace('{request_id}', id);
    expect(lines(result.stderr).slice(-3)).toEqual([
      '[download] Downloading 2 file(s) to out',
      '   out/face.png',
      `   ⚠ ${brokenUrl}: download ${brokenUrl}`,
    ]);
    expect(fs.readdirSync(path.join(sb.dir, 'out'))).toEqual(['face.png']);
    expect(fs.readFileSync(path.join(sb.dir, 'out', 'face.png'), 'utf8')).toBe('fixture bytes');
  });
  test('a redirect is followed to a trusted host; off the trusted hosts its empty reply is saved (exit 0)', async () => {
    const away = 'https://files.runcomfy.net/{request_id}/away.png';
    const moved = 'https://files.runcomfy.net/{request_id}/moved.png';
    const sb = sandbox({
      scenario: {
        ...always({ ...INSTANT, output: { images: [away, moved] } }),
        downloads: {
          [away]: { redirect: 'https://cdn.example.com/away.png' },
          [moved]: { redirect: 'https://eu.files.runcomfy.net/moved.png' },
        },
      },
    });
    const id = await submit(sb);
    await waitForStatus(sb, id, 'completed');
    const result = await runcomfy(sb, ['result', id, '--output-dir', 'out']);
    expect(result.exitCode).toBe(0);
    expect(fs.readdirSync(path.join(sb.dir, 'out')).sort()).toEqual(['away.png', 'moved.png']);
    expect(fs.statSync(path.join(sb.dir, 'out', 'away.png')).size).toBe(0);
    expect(fs.statSync(path.join(sb.dir, 'out', 'moved.png')).size).toBeGreaterThan(0);
  });
});

describe('scripted outcomes (§6, §10.5)', () => {
  test('a sequence is consumed across processes: 75, 75, then success', async () => {
    const sb = sandbox({ scenario: { models: { 'acme/flaky': { steps: [75, 75] } } } });
    const codes: (number | undefined)[] = [];
    for (let i = 0; i < 4; i++) {
      const result = await runcomfy(sb, ['--output', 'json', 'run', 'acme/flaky', '--no-wait']);
      codes.push(result.exitCode);
      if (i === 0) {
        expect(result.stdout).toBe('');
        expect(JSON.parse(lastLine(result.stderr))).toEqual({
          error: 'API error 429: rate limited; retry in a moment (submit)',
        });
      }
    }
    expect(codes).toEqual([75, 75, 0, 0]);
    const log = sb.readLog();
    expect(log.map((record) => record.created)).toEqual([false, false, true, true]);
    expect(log.map((record) => record.submission?.index)).toEqual([0, 1, 2, 3]);
  });

  test('submit errors map to their exit codes and create no job; repeat-last repeats', async () => {
    const sb = sandbox({
      scenario: {
        models: {
          'acme/errors': { steps: [{ submit: 'timeout' }, 65, 77, 1, 69, { submit: { http: 402 } }] },
          'acme/down': { steps: [69], then: 'repeat-last' },
        },
      },
    });
    const messages: string[] = [];
    const codes: (number | undefined)[] = [];
    for (let i = 0; i < 6; i++) {
      const result = await runcomfy(sb, ['--output', 'json', 'run', 'acme/errors', '--no-wait']);
      codes.push(result.exitCode);
      messages.push((JSON.parse(lastLine(result.stderr)) as { error: string }).error);
    }
    expect(codes).toEqual([75, 65, 77, 1, 69, 65]);
    const submitUrl = 'POST https://model-api.runcomfy.net/v1/models/acme/errors';
    expect(messages[0]).toBe(submitUrl);
    expect(messages[1]).toMatch(/^API error 422: input did not match the model's schema/);
    expect(messages[2]).toMatch(/^API error 401: auth failed \(submit\)/);
    expect(messages[3]).toBe(submitUrl);
    expect(messages[4]).toBe('API error 503: Service Unavailable');
    expect(messages[5]).toBe('API error 402: {"error":"insufficient credits"}');

    for (let i = 0; i < 2; i++) expect((await runcomfy(sb, ['run', 'acme/down'])).exitCode).toBe(69);
    expect(sb.readLog().some((record) => record.created)).toBe(false);
  });

  test('a 5xx mid-poll ends the waiting run (69) but the job survives for status and result', async () => {
    const sb = sandbox({
      scenario: always({ queueMs: 0, runMs: 4000, faults: [{ on: 'status', call: 2, error: 69 }] }),
    });
    const run = await runcomfy(sb, ['run', 'acme/model', '--poll-secs', '1']);
    expect(run.exitCode).toBe(69);
    expect(run.stdout).toBe('');
    expect(lines(run.stderr).slice(-2)).toEqual([
      '   in_progress',
      'Error: API error 503: Service Unavailable',
    ]);

    const [record] = sb.readLog();
    expect(record).toMatchObject({ created: true, exit: 69 });
    const id = record!.request_id!;
    expect(['in_progress', 'completed']).toContain((await statusOf(sb, id)).status);
    await waitForStatus(sb, id, 'completed');
    expect((await runcomfy(sb, ['result', id, '--no-download'])).exitCode).toBe(0);
  });

  test('a fault on a result call fails that call only', async () => {
    const sb = sandbox({ scenario: always({ ...INSTANT, faults: [{ on: 'result', call: 1, error: 75 }] }) });
    const id = await submit(sb);
    await waitForStatus(sb, id, 'completed');
    const first = await runcomfy(sb, ['result', id, '--no-download']);
    expect(first.exitCode).toBe(75);
    expect(first.stderr).toBe('Error: API error 429: rate limited; retry in a moment (result)');
    expect((await runcomfy(sb, ['result', id, '--no-download'])).exitCode).toBe(0);
  });
});

describe('signals (§7)', () => {
  /**
   * Start `runcomfy` and resolve once its stderr contains `marker`. The subprocess comes back
   * wrapped: execa's subprocess is a thenable, and resolving to it would wait for its exit.
   */
  async function startUntil(sb: Standin, args: string[], marker: string) {
    const subprocess = execa('runcomfy', args, { env: sb.env, cwd: sb.dir, reject: false, stdin: 'ignore' });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`never saw ${marker}: ${stderr}`)), 20_000);
      subprocess.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes(marker)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    return { subprocess };
  }

  test('SIGINT while polling a queued job cancels it and exits 1 with `cancelled by user`', async () => {
    const sb = sandbox({ scenario: always({ queueMs: null }) });
    const { subprocess } = await startUntil(sb, ['run', 'acme/model', '--poll-secs', '1'], 'in_queue');
    subprocess.kill('SIGINT');
    const result = await subprocess;
    expect(result.exitCode).toBe(1);
    const id = /request_id: (\S+)/.exec(result.stderr)?.[1] ?? '';
    expect(lines(result.stderr).slice(-3)).toEqual([
      `[cancel] SIGINT received; cancelling request ${id}`,
      '   cancel accepted (cancelled)',
      'Error: cancelled by user',
    ]);
    expect((await statusOf(sb, id)).status).toBe('cancelled');
  });

  test('SIGINT while polling a running job: not cancellable, json error, job keeps running', async () => {
    const sb = sandbox({ scenario: always({ queueMs: 0, runMs: null }) });
    const { subprocess } = await startUntil(
      sb,
      ['run', 'acme/model', '--poll-secs', '1', '-v', '--output', 'json'],
      '[v]',
    );
    // The [v] line comes before the submit; give the first poll time to happen.
    await new Promise((resolve) => setTimeout(resolve, 500));
    subprocess.kill('SIGINT');
    const result = await subprocess;
    expect(result.exitCode).toBe(1);
    expect(lastLine(result.stderr)).toBe('{"error":"cancelled by user"}');
    const id = sb.readLog()[0]!.request_id!;
    expect((await statusOf(sb, id)).status).toBe('in_progress');
  });

  test('SIGTERM kills the process by the signal; the job is untouched and the log records it', async () => {
    const sb = sandbox({ scenario: always({ queueMs: null }) });
    const { subprocess } = await startUntil(sb, ['run', 'acme/model', '--poll-secs', '1'], 'in_queue');
    subprocess.kill('SIGTERM');
    const result = await subprocess;
    expect(result.signal).toBe('SIGTERM');
    expect(result.exitCode).toBeUndefined();
    const [record] = sb.readLog();
    expect(record).toMatchObject({ exit: null, signal: 'SIGTERM', created: true });
    expect((await statusOf(sb, record!.request_id!)).status).toBe('in_queue');
  });

  test('SIGINT before polling kills by the signal: a hung submit (no job) and a slow one (job exists)', async () => {
    const sb = sandbox({
      scenario: {
        models: {
          'acme/hang': { steps: [{ submit: 'hang' }] },
          'acme/slow': { base: { submitMs: 60_000, queueMs: null } },
        },
      },
    });
    const { subprocess: hung } = await startUntil(sb, ['run', 'acme/hang'], '[submit]');
    hung.kill('SIGINT');
    expect((await hung).signal).toBe('SIGINT');

    const { subprocess: slow } = await startUntil(sb, ['run', 'acme/slow', '--no-wait'], '[submit]');
    slow.kill('SIGINT');
    const result = await slow;
    expect(result.signal).toBe('SIGINT');
    expect(result.stderr).not.toContain('request_id:'); // the caller never learned the id …

    const [hungRecord, slowRecord] = sb.readLog();
    expect(hungRecord).toMatchObject({ signal: 'SIGINT', created: false, request_id: null });
    expect(slowRecord).toMatchObject({ signal: 'SIGINT', created: true }); // … yet a job exists
    expect((await statusOf(sb, slowRecord!.request_id!)).status).toBe('in_queue');
  });
});

describe('concurrency', () => {
  test('8 parallel submissions get distinct ids, distinct steps and 8 log records', async () => {
    const sb = sandbox({ scenario: always({ submitMs: 200 }) });
    const results = await Promise.all(
      Array.from({ length: 8 }, () => runcomfy(sb, ['--output', 'json', 'run', 'acme/model', '--no-wait'])),
    );
    expect(results.map((result) => result.exitCode)).toEqual(Array(8).fill(0));
    const ids = results.map((result) => (JSON.parse(result.stdout) as { request_id: string }).request_id);
    expect(new Set(ids).size).toBe(8);

    const log = sb.readLog();
    expect(log).toHaveLength(8);
    expect(log.every((record) => record.created && record.end >= record.start)).toBe(true);
    expect(new Set(log.map((record) => record.request_id))).toEqual(new Set(ids));
    expect(log.map((record) => record.submission?.index).sort((a, b) => a! - b!)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7,
    ]);
  });
});
