// Generators of synthetic recipes for the benchmarks. Deterministic: the same sizes always give
// the same files, so figures are comparable between runs.

/** A chain-and-fan recipe of `n` stages: each stage references an earlier one's output. */
export function generateRecipe(n, { name = 'bench' } = {}) {
  const lines = [
    'version: 1',
    `name: ${name}`,
    'vars:',
    '  scene: https://assets.example.com/scene.jpg',
    'defaults:',
    '  retries: 2',
    '  timeout: 15m',
    'stages:',
  ];
  for (let i = 0; i < n; i++) {
    const image =
      i === 0 ? '${{ vars.scene }}' : `\${{ stages.s${Math.floor((i - 1) / 2)}.outputs.images[0] }}`;
    lines.push(
      `  s${i}:`,
      '    model: blackforestlabs/flux-1-kontext/pro/edit',
      '    subjects: [ana]',
      '    input:',
      `      prompt: Change only the face, variant ${i}`,
      `      image: ${image}`,
    );
  }
  // Face-swap stages need a consent record (docs/consent.md).
  lines.push(
    'consent:',
    '  subjects:',
    '    ana: { release: REL-BENCH-0001 }',
    '  assets:',
    '    - { match: "https://assets.example.com/**", rights: generated benchmark inputs }',
    '  disclosure: { label: AI-generated }',
  );
  return lines.join('\n') + '\n';
}
