// Validator benchmark (issue 3): validate + plan of generated recipes, measured in one run
// against the floors of perf-notes.md: a bare Node start, and yaml's own parseDocument of the
// same file (uniqueKeys off), which nothing built on `yaml` can beat.
import { build } from 'esbuild';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateRecipe } from './generate.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(root, 'bin', 'faceswap-pipe.js');

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Wall time and peak RSS of a command: RSS from GNU time, the time from a clock around the
 * spawn (GNU time prints hundredths of a second, too coarse next to a 100 ms process start).
 */
async function timed(file, args, cwd, env = process.env) {
  const started = performance.now();
  const result = await execa('/usr/bin/time', ['-f', '%M', file, ...args], {
    cwd,
    env,
    extendEnv: false,
    reject: false,
  });
  const ms = performance.now() - started;
  const kb = Number(result.stderr.trim().split('\n').at(-1));
  return { ms, rssMb: kb / 1024, exitCode: result.exitCode };
}

export async function runValidatorBench({ runs = 7, quiet = false } = {}) {
  const log = quiet ? () => undefined : (line) => console.log(line);
  const dir = mkdtempSync(join(tmpdir(), 'bench-validator-'));
  try {
    const small = join(dir, 'small.yaml');
    const big = join(dir, 'big.yaml');
    writeFileSync(small, generateRecipe(20));
    writeFileSync(big, generateRecipe(10_000));

    // The start-up floor of anything built on `yaml`: a process that only loads the library
    // (bundled the way bin/faceswap-pipe.js loads ours) and parses the same file.
    const parseOnlyScript = join(dir, 'parse-only.mjs');
    writeFileSync(
      parseOnlyScript,
      "import { parseDocument } from 'yaml';\nimport { readFileSync } from 'node:fs';\n" +
        "const doc = parseDocument(readFileSync(process.argv[2], 'utf8'), { uniqueKeys: false });\n" +
        'process.stdout.write(String(JSON.stringify(doc.toJS()).length));\n',
    );
    const parseOnlyBundle = join(dir, 'parse-only.bundle.mjs');
    await build({
      entryPoints: [parseOnlyScript],
      outfile: parseOnlyBundle,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20.19',
      alias: { yaml: join(root, 'node_modules', 'yaml', 'browser', 'index.js') },
      logLevel: 'warning',
    });
    const parse20 = [];
    const node = [];
    const plan20 = [];
    // Node 20 parses the whole NODE_EXTRA_CA_CERTS bundle before running any code (Node 22 does
    // it lazily): on machines that set it, that alone adds ~50 ms to every process. Both are
    // measured, so what is ours and what is the environment's stays visible.
    const withoutCa = { ...process.env };
    delete withoutCa.NODE_EXTRA_CA_CERTS;
    const caSet = process.env.NODE_EXTRA_CA_CERTS !== undefined;
    const nodeNoCa = [];
    const plan20NoCa = [];
    for (let i = 0; i < runs; i++) {
      node.push((await timed('node', ['-e', ''], dir)).ms);
      parse20.push((await timed('node', [parseOnlyBundle, small], dir)).ms);
      plan20.push((await timed('node', [BIN, 'plan', small, '--format', 'json'], dir)).ms);
      if (!caSet) continue;
      nodeNoCa.push((await timed('node', ['-e', ''], dir, withoutCa)).ms);
      plan20NoCa.push((await timed('node', [BIN, 'plan', small, '--format', 'json'], dir, withoutCa)).ms);
    }
    // 10,000 stages, whole processes: ours against the parse-only process on the same file.
    const bigRuns = [];
    const bigParse = [];
    for (let i = 0; i < 3; i++) {
      bigRuns.push(await timed('node', [BIN, 'plan', big, '--format', 'json'], dir));
      bigParse.push((await timed('node', [parseOnlyBundle, big], dir)).ms);
    }
    const bigRun = bigRuns.sort((a, b) => a.ms - b.ms)[1];
    const bigRssMb = Math.max(...bigRuns.map((r) => r.rssMb));

    // In-process: validate+plan against parseDocument of the same text, same process, warm.
    const { Catalog } = await import(join(root, 'dist/catalog/catalog.js'));
    const { analyzeLoaded } = await import(join(root, 'dist/recipe/analyze.js'));
    const { parseRecipeText } = await import(join(root, 'dist/recipe/load.js'));
    const { buildPlan } = await import(join(root, 'dist/plan/plan.js'));
    const { parseDocument } = await import('yaml');
    const text = readFileSync(big, 'utf8');
    const catalog = Catalog.load();
    const analysePlan = () => {
      const analysis = analyzeLoaded(parseRecipeText(big, Buffer.from(text)), { catalog });
      if (!analysis.recipe) throw new Error('the generated recipe does not validate');
      buildPlan(analysis.recipe, catalog);
    };
    const parseOnly = () => parseDocument(text, { uniqueKeys: false }).toJS();
    analysePlan();
    parseOnly();
    // Interleaved pairs, so a burst of load on this shared machine hits both sides of a pair;
    // the median of the pairs' ratios is the figure (the ratio of the medians is printed too).
    const ours = [];
    const floor = [];
    const pairs = [];
    for (let i = 0; i < 9; i++) {
      let t = performance.now();
      analysePlan();
      ours.push(performance.now() - t);
      t = performance.now();
      parseOnly();
      floor.push(performance.now() - t);
      pairs.push(ours[i] / floor[i]);
    }
    const result = {
      nodeStartMs: median(node),
      parseOnly20Ms: median(parse20),
      plan20Ms: median(plan20),
      ratio20: median(plan20.map((ms, i) => ms / parse20[i])),
      plan10kMs: bigRun.ms,
      plan10kRssMb: bigRssMb,
      parseOnly10kMs: median(bigParse),
      analysePlan10kMs: median(ours),
      parseDocument10kMs: median(floor),
      ratioToParse: median(pairs),
      ratioOfMedians: median(ours) / median(floor),
      pairRange: [Math.min(...pairs), Math.max(...pairs)],
    };
    log(
      `validator: 20 stages, process wall time (validate + plan, Node start included): median ${result.plan20Ms.toFixed(0)} ms over ${runs} runs (target well under 150 ms); bare 'node -e ""': ${result.nodeStartMs.toFixed(0)} ms, so ${(result.plan20Ms - result.nodeStartMs).toFixed(0)} ms are faceswap-pipe's`,
    );
    log(
      `validator: a process that only parses the same 20-stage file with yaml (bundled the same way): ${result.parseOnly20Ms.toFixed(0)} ms, so validate+plan costs ${result.ratio20.toFixed(2)}x that (median of ${runs} interleaved pairs), ${(result.plan20Ms - result.parseOnly20Ms).toFixed(0)} ms more`,
    );
    if (caSet) {
      result.plan20NoCaMs = median(plan20NoCa);
      result.nodeStartNoCaMs = median(nodeNoCa);
      log(
        `validator: the same without NODE_EXTRA_CA_CERTS (set here; Node ${process.versions.node.split('.')[0]} reads it at start-up): ${result.plan20NoCaMs.toFixed(0)} ms; bare node ${result.nodeStartNoCaMs.toFixed(0)} ms`,
      );
    }
    log(
      `validator: 10,000 stages (${(text.length / 1e6).toFixed(2)} MB), whole process: ${result.plan10kMs.toFixed(0)} ms (median of 3), peak RSS ${result.plan10kRssMb.toFixed(0)} MB (target < 250 MB); the parse-only process on the same file: ${result.parseOnly10kMs.toFixed(0)} ms = ${(result.plan10kMs / result.parseOnly10kMs).toFixed(2)}x`,
    );
    log(
      `validator: 10,000 stages in-process: validate+plan ${result.analysePlan10kMs.toFixed(0)} ms vs yaml parseDocument(uniqueKeys: false)+toJS ${result.parseDocument10kMs.toFixed(0)} ms: median of 9 interleaved pairs ${result.ratioToParse.toFixed(2)}x (pairs ${result.pairRange[0].toFixed(2)}-${result.pairRange[1].toFixed(2)}x, ratio of medians ${result.ratioOfMedians.toFixed(2)}x; target <= 1.5x; 1 s absolute is below the parser's floor, perf-notes.md)`,
    );
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runValidatorBench();
