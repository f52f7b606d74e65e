/**
 * End to end with the runcomfy stand-in: a consented recipe runs, and every output of every
 * stage gets a provenance record and (where the format allows) an embedded label; `verify`
 * passes on the outputs and fails on a modified copy.
 * The run stamps its outputs itself (the executor's `beforeRecord` hook) and writes the
 * run's manifest.json.
 */
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ProvenanceRecord } from '../src/policy/provenance.js';
import { sandbox } from './helpers/runner.js';

const RECIPE = `version: 1
name: chain
vars:
  still: https://assets.example.com/campaign/ana.jpg
  dance: https://assets.example.com/campaign/dance.mp4
consent:
  subjects:
    ana: { release: REL-2026-0042, images: ["https://assets.example.com/campaign/ana*"] }
  assets:
    - { match: "https://assets.example.com/campaign/**", rights: Owned footage }
  disclosure: { label: AI-generated }
stages:
  face:
    model: blackforestlabs/flux-1-kontext/pro/edit
    subjects: [ana]
    input:
      prompt: Change only the face
      image: \${{ vars.still }}
  motion:
    model: kling/kling-2-6/motion-control-pro
    subjects: [ana]
    input:
      character_image_url: \${{ stages.face.outputs.images[0] }}
      reference_video_url: \${{ vars.dance }}
`;

describe('a run with the stand-in, then provenance and verify', () => {
  const sb = sandbox({ models: { default: { base: { queueMs: 0, runMs: 0 } } } });
  afterAll(() => sb.cleanup());

  it('records every output, and verify passes on them and fails on a modified copy', async () => {
    const file = sb.recipe('chain.yaml', RECIPE);
    const run = await sb.run(['run', file, '--reporter', 'plain']);
    expect(run.code).toBe(0);

    const outDir = join(sb.standin.dir, 'outputs', 'chain');
    const runs = join(outDir, 'runs');
    const runDir = join(runs, readdirSync(runs).sort().at(-1)!);
    const record = sb.runRecord('chain');
    // The run itself stamped every output (the executor's beforeRecord hook); read what it wrote.
    const all = [...record.stages['face']!.files, ...record.stages['motion']!.files];
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const f of all) {
      const path = join(outDir, f);
      expect(existsSync(`${path}.provenance.json`)).toBe(true);
      const prov = JSON.parse(readFileSync(`${path}.provenance.json`, 'utf8')) as ProvenanceRecord;
      expect(prov.disclosure.label).toBe('AI-generated');
      expect(prov.subjects).toEqual([{ id: 'ana', release: 'REL-2026-0042', expires: null, scope: [] }]);
      expect(prov.inputs.every((i) => i.coverage.kind !== 'none')).toBe(true);
      // The stand-in's PNG placeholders carry the label in the file; its video placeholder is
      // text, so the label is in the record only, and the record says why.
      if (f.endsWith('.png')) expect(prov.disclosure.embedded).toEqual(['png-text', 'png-xmp']);
      else expect(prov.warnings).toHaveLength(1);
    }
    const motion = JSON.parse(
      readFileSync(`${join(outDir, record.stages['motion']!.files[0]!)}.provenance.json`, 'utf8'),
    ) as ProvenanceRecord;
    expect(motion.inputs.map((i) => [i.field, i.coverage.kind])).toEqual([
      ['character_image_url', 'upstream'],
      ['reference_video_url', 'asset'],
    ]);

    const manifest = `outputs/chain/runs/${basename(runDir)}/manifest.json`;
    const verify = await sb.run(['verify', manifest]);
    expect(verify.stderr).toBe('');
    expect(verify.stdout.endsWith(`${all.length} of ${all.length} files verified\n`)).toBe(true);
    expect(verify.code).toBe(0);

    const copy = join(sb.standin.dir, 'copy');
    mkdirSync(copy);
    const png = join(outDir, record.stages['face']!.files[0]!);
    copyFileSync(png, join(copy, 'face.png'));
    copyFileSync(`${png}.provenance.json`, join(copy, 'face.png.provenance.json'));
    appendFileSync(join(copy, 'face.png'), 'x');
    const tampered = await sb.run(['verify', 'copy/face.png']);
    expect(tampered.code).toBe(65);
    expect(tampered.stderr).toMatch(
      /^FAIL copy\/face\.png:\n {2}- sha256 mismatch: the record says [0-9a-f]{12}…, the file is [0-9a-f]{12}…; the file was changed after it was recorded\n/,
    );
  }, 60_000);

  it('a cached re-run lists the files it delivered in its manifest; a changed label re-labels them', async () => {
    const box = sandbox({ models: { default: { base: { queueMs: 0, runMs: 0 } } } });
    try {
      const file = box.recipe('chain.yaml', RECIPE);
      expect((await box.run(['run', file, '--reporter', 'plain'])).code).toBe(0);
      const outDir = join(box.standin.dir, 'outputs', 'chain');
      const first = box.runRecord('chain');
      const files = [...first.stages['face']!.files, ...first.stages['motion']!.files].sort();
      const newestManifest = () => {
        const runs = join(outDir, 'runs');
        const dir = join(runs, readdirSync(runs).sort().at(-1)!);
        return {
          path: `outputs/chain/runs/${basename(dir)}/manifest.json`,
          json: JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
            disclosure: { label: string };
            outputs: { file: string; sha256: string }[];
          },
        };
      };
      const before = newestManifest().json.outputs;

      // Unchanged: no client call, and the run's manifest still lists (and verify checks) every file.
      const calls = box.standin.readLog().length;
      expect((await box.run(['run', file, '--reporter', 'plain'])).code).toBe(0);
      expect(box.standin.readLog()).toHaveLength(calls);
      const cached = newestManifest();
      expect(cached.json.outputs.map((o) => o.file)).toEqual(files);
      expect(cached.json.outputs).toEqual(before);
      const verify = await box.run(['verify', cached.path]);
      expect(verify.stdout.endsWith(`${files.length} of ${files.length} files verified\n`)).toBe(true);

      // The recipe's label changes: the jobs stay cached, their files are labelled and recorded again.
      box.recipe('chain.yaml', RECIPE.replace('label: AI-generated', 'label: Synthetic media'));
      expect((await box.run(['run', file, '--reporter', 'plain'])).code).toBe(0);
      expect(box.standin.readLog()).toHaveLength(calls);
      const relabelled = newestManifest();
      expect(relabelled.json.disclosure.label).toBe('Synthetic media');
      expect(relabelled.json.outputs.map((o) => o.file)).toEqual(files);
      for (const f of files) {
        const prov = JSON.parse(
          readFileSync(`${join(outDir, f)}.provenance.json`, 'utf8'),
        ) as ProvenanceRecord;
        expect(prov.disclosure.label).toBe('Synthetic media');
      }
      expect((await box.run(['verify', relabelled.path])).code).toBe(0);
    } finally {
      box.cleanup();
    }
  }, 60_000);
});
