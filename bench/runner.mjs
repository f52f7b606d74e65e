// Runner benchmark: a generated 200-stage DAG run against the runcomfy stand-in with scripted
// job durations. Prints, measured in the same run:
//   - makespan / ideal, the ideal being the lower bound max(critical path, total work / N);
//   - makespan / a zero-overhead list schedule of the same DAG (critical path first), and / the
//     same schedule paying the client calls no runner can avoid (each a Node start of the stand-in);
//   - the runner's per-stage overhead against GNU make -j N running the same stand-in commands
//     (submit --no-wait, status until done, result) from a Makefile;
//   - client invocations per stage, each costing a Node start (perf-notes: ~84 ms).
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(root, 'bin', 'faceswap-pipe.js');
const STANDIN = join(root, 'test', 'standin', 'bin');
const KONTEXT = 'blackforestlabs/flux-1-kontext/pro/edit';

/** Deterministic PRNG so the DAG and durations are the same every run. */
function prng(seed) {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r ^= r + Math.imul(r ^ (r >>> 7), 61 | r);
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `stages` stages in layers of varying width; each stage depends on up to two stages of the
 * previous layers. Durations come from four bench models (catalog copies of Kontext).
 */
export function generateDag({ stages = 200, seed = 7 } = {}) {
  const random = prng(seed);
  const widths = [1, 4, 12, 30, 40, 40, 30, 20, 12, 6, 3, 2];
  const layers = [];
  let made = 0;
  for (const w of widths) {
    const layer = [];
    for (let i = 0; i < w && made < stages; i++) layer.push(`s${made++}`);
    if (layer.length) layers.push(layer);
  }
  while (made < stages) layers[layers.length - 1].push(`s${made++}`);
  const deps = new Map();
  const model = new Map();
  layers.forEach((layer, l) => {
    for (const id of layer) {
      const pool = layers.slice(Math.max(0, l - 2), l).flat();
      const d = new Set();
      if (pool.length) {
        d.add(pool[Math.floor(random() * pool.length)]);
        if (random() < 0.4) d.add(pool[Math.floor(random() * pool.length)]);
      }
      deps.set(id, [...d].sort());
      model.set(id, `bench/m${1 + Math.floor(random() * 4)}/edit`);
    }
  });
  return { deps, model, order: layers.flat() };
}

function recipeText(dag) {
  let text = 'version: 1\nname: bench-runner\ndefaults:\n  retries: 0\n  timeout: 1h\nstages:\n';
  for (const id of dag.order) {
    const [first, ...rest] = dag.deps.get(id);
    const image = first
      ? `\${{ stages.${first}.outputs.images[0] }}`
      : `https://assets.example.com/${id}.jpg`;
    text += `  ${id}:\n    model: ${dag.model.get(id)}\n    input:\n      prompt: ${id}\n      image: "${image}"\n`;
    if (rest.length) text += `    needs: [${rest.join(', ')}]\n`;
  }
  return text;
}

/** A catalog folder with the four bench models: Kontext's schema under other ids. */
function benchCatalog(dir) {
  const kontext = JSON.parse(
    readFileSync(join(root, 'schemas/models/blackforestlabs-flux-1-kontext-pro-edit.schema.json'), 'utf8'),
  );
  mkdirSync(dir, { recursive: true });
  for (let m = 1; m <= 4; m++) {
    const id = `bench/m${m}/edit`;
    const schema = {
      ...kontext,
      $id: `https://faceswap-pipe.dev/bench/m${m}.json`,
      'x-faceswap': { ...kontext['x-faceswap'], model: id, faceSwap: false },
    };
    writeFileSync(join(dir, `bench-m${m}.json`), JSON.stringify(schema));
  }
}

/**
 * Lower bound and a zero-overhead list schedule (critical path first), in ms. With `client`
 * (ms per client call), the list schedule also pays the calls no runner can avoid, each on the
 * stage's slot (which --concurrency holds from submit to fetched result): its submit, the status
 * call that sees it end, and its result call.
 */
export function idealMakespan(dag, durationOf, concurrency, client = 0) {
  const order = dag.order;
  const dependents = new Map(order.map((id) => [id, []]));
  for (const id of order) for (const d of dag.deps.get(id)) dependents.get(d).push(id);
  const rest = new Map();
  for (const id of [...order].reverse())
    rest.set(id, durationOf(id) + Math.max(0, ...dependents.get(id).map((d) => rest.get(d))));
  const critical = Math.max(...order.map((id) => rest.get(id)));
  const work = order.reduce((a, id) => a + durationOf(id), 0);
  const bound = Math.max(critical, work / concurrency);
  // List scheduling simulation.
  const finish = new Map();
  const remaining = new Map(order.map((id) => [id, dag.deps.get(id).length]));
  let ready = order.filter((id) => remaining.get(id) === 0);
  const running = [];
  let now = 0;
  while (ready.length || running.length) {
    ready.sort((a, b) => rest.get(b) - rest.get(a));
    while (running.length < concurrency && ready.length) {
      const id = ready.shift();
      running.push({ id, end: now + durationOf(id) + 3 * client });
    }
    // The next slot frees when a running stage's result is fetched; its dependents are ready then.
    running.sort((a, b) => a.end - b.end);
    const next = running.shift();
    now = next.end;
    finish.set(next.id, now);
    for (const d of dependents.get(next.id)) {
      remaining.set(d, remaining.get(d) - 1);
      if (remaining.get(d) === 0) ready.push(d);
    }
  }
  return { bound, list: now, critical, work };
}

function makefileText(dag, dir, pollSeconds) {
  // Each target does what the runner does for a stage, with the same client calls.
  const script = join(dir, 'stage.sh');
  writeFileSync(
    script,
    `#!/bin/sh
set -e
id=$(printf '%s' "$2" | runcomfy --output json run "$1" --input-file - --no-wait | sed 's/.*"request_id":"\\([^"]*\\)".*/\\1/')
while :; do
  s=$(runcomfy --output json status "$id")
  case "$s" in *'"completed"'*) break;; *'"failed"'*|*'"cancelled"'*) exit 1;; esac
  sleep ${pollSeconds}
done
runcomfy --output json result "$id" --output-dir "${dir}/out/$id" > /dev/null
`,
    { mode: 0o755 },
  );
  let text = `all: ${dag.order.join(' ')}\n.PHONY: all ${dag.order.join(' ')}\n`;
  for (const id of dag.order) {
    const body = JSON.stringify({ prompt: id, image: `https://assets.example.com/${id}.jpg` }).replace(
      /'/g,
      `'\\''`,
    );
    text += `${id}: ${dag.deps.get(id).join(' ')}\n\t@${script} ${dag.model.get(id)} '${body}'\n`;
  }
  return text;
}

export async function runRunnerBench({
  stages = 200,
  concurrency = 8,
  pollMs = 400,
  minMs = 1_500,
  maxMs = 4_500,
  quiet = false,
} = {}) {
  const log = quiet ? () => undefined : (line) => console.log(line);
  const dag = generateDag({ stages });
  const durations = {
    'bench/m1/edit': minMs,
    'bench/m2/edit': minMs + (maxMs - minMs) / 3,
    'bench/m3/edit': minMs + (2 * (maxMs - minMs)) / 3,
    'bench/m4/edit': maxMs,
  };
  const durationOf = (id) => durations[dag.model.get(id)];
  const ideal = idealMakespan(dag, durationOf, concurrency);
  const dir = mkdtempSync(join(tmpdir(), 'bench-runner-'));
  try {
    benchCatalog(join(dir, 'catalog'));
    writeFileSync(join(dir, 'bench.yaml'), recipeText(dag));
    const scenario = {
      models: Object.fromEntries(
        Object.entries(durations).map(([m, d]) => [m, { base: { queueMs: 0, runMs: d } }]),
      ),
    };
    writeFileSync(join(dir, 'scenario.json'), JSON.stringify(scenario));
    const env = {
      ...process.env,
      PATH: `${STANDIN}:${process.env.PATH}`,
      RUNCOMFY_TOKEN: 'bench-token',
      RUNCOMFY_CONFIG_DIR: join(dir, 'config'),
      RUNCOMFY_STANDIN_SCENARIO: join(dir, 'scenario.json'),
      RUNCOMFY_STANDIN_STATE: join(dir, 'state'),
      RUNCOMFY_STANDIN_LOG: join(dir, 'runner.log'),
      FACESWAP_POLL_INTERVAL_MS: String(pollMs),
    };
    log(
      `runner: ${stages} stages, concurrency ${concurrency}, job durations ${minMs}-${maxMs} ms, poll ${pollMs} ms`,
    );
    let started = performance.now();
    const run = await execa(
      'node',
      [
        BIN,
        'run',
        'bench.yaml',
        '--reporter',
        'json',
        '--no-cache',
        '--concurrency',
        String(concurrency),
        '--catalog',
        join(dir, 'catalog'),
      ],
      { cwd: dir, env, reject: false },
    );
    const runnerMs = performance.now() - started;
    if (run.exitCode !== 0) throw new Error(`bench run failed (${run.exitCode}): ${run.stderr.slice(-2000)}`);
    const calls = readFileSync(join(dir, 'runner.log'), 'utf8').trim().split('\n').length;

    writeFileSync(join(dir, 'Makefile'), makefileText(dag, dir, pollMs / 1000));
    started = performance.now();
    const make = await execa('make', ['-s', '-j', String(concurrency), '-f', join(dir, 'Makefile')], {
      cwd: dir,
      env: {
        ...env,
        RUNCOMFY_STANDIN_LOG: join(dir, 'make.log'),
        RUNCOMFY_STANDIN_STATE: join(dir, 'state-make'),
      },
      reject: false,
    });
    const makeMs = performance.now() - started;
    if (make.exitCode !== 0) throw new Error(`make failed: ${make.stderr.slice(-2000)}`);
    const makeCalls = readFileSync(join(dir, 'make.log'), 'utf8').trim().split('\n').length;

    // The floor each client call pays here: a Node start of the stand-in (perf-notes). Its sh
    // launcher drops NODE_EXTRA_CA_CERTS, which Node 20 would parse at every start.
    const times = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await execa('runcomfy', ['--version'], { env, extendEnv: false, reject: false });
      times.push(performance.now() - t);
    }
    const clientCallMs = times.sort((a, b) => a - b)[2];
    const floor = idealMakespan(dag, durationOf, concurrency, clientCallMs);

    const result = {
      stages,
      concurrency,
      clientCallMs,
      idealBoundMs: ideal.bound,
      listScheduleMs: ideal.list,
      runnerMs,
      makeMs,
      makespanVsIdeal: runnerMs / ideal.bound,
      makespanVsListSchedule: runnerMs / ideal.list,
      listScheduleWithClientMs: floor.list,
      makespanVsListScheduleWithClient: runnerMs / floor.list,
      runnerOverheadPerStageMs: (runnerMs - ideal.list) / stages,
      makeOverheadPerStageMs: (makeMs - ideal.list) / stages,
      overheadVsMake: (runnerMs - ideal.list) / Math.max(1, makeMs - ideal.list),
      clientCallsPerStage: calls / stages,
      makeClientCallsPerStage: makeCalls / stages,
    };
    log(
      `  ideal (lower bound max(critical path ${(ideal.critical / 1000).toFixed(1)} s, work/N ${(ideal.work / concurrency / 1000).toFixed(1)} s)): ${(ideal.bound / 1000).toFixed(1)} s; zero-overhead list schedule: ${(ideal.list / 1000).toFixed(1)} s`,
    );
    log(
      `  faceswap-pipe: ${(runnerMs / 1000).toFixed(1)} s = ${result.makespanVsIdeal.toFixed(3)}x ideal, ${result.makespanVsListSchedule.toFixed(3)}x list schedule (target 1.05x); ${result.clientCallsPerStage.toFixed(1)} client calls per stage`,
    );
    log(
      `  the same list schedule paying the client calls no runner avoids (${clientCallMs.toFixed(0)} ms each, on the stage's slot: its submit, the status call that sees it end, its result call): ${(floor.list / 1000).toFixed(1)} s; faceswap-pipe = ${result.makespanVsListScheduleWithClient.toFixed(3)}x that`,
    );
    log(
      `  make -j ${concurrency}:     ${(makeMs / 1000).toFixed(1)} s; ${result.makeClientCallsPerStage.toFixed(1)} client calls per stage`,
    );
    log(
      `  one client call (the stand-in's Node start) costs ${clientCallMs.toFixed(0)} ms here: ${result.clientCallsPerStage.toFixed(1)} calls per stage, ${(clientCallMs * result.clientCallsPerStage).toFixed(0)} ms of client start per stage on ${concurrency} slots sharing the machine's cores`,
    );
    log(
      `  per-stage overhead over the list schedule: faceswap-pipe ${result.runnerOverheadPerStageMs.toFixed(0)} ms, make ${result.makeOverheadPerStageMs.toFixed(0)} ms: ${result.overheadVsMake.toFixed(2)}x make's (target <= 1.5x)`,
    );
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runRunnerBench();
