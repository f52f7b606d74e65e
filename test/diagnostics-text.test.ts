// How a diagnostic's source excerpt is drawn: the underline sits under the offending text in a
// terminal, whatever characters come before it.
import { describe, expect, it } from 'vitest';
import { error } from '../src/recipe/diagnostic.js';
import { SourceFile } from '../src/recipe/source.js';
import { renderDiagnostic } from '../src/report/diagnostics-text.js';

function underline(line: string, target: string): string {
  const file = new SourceFile('t.yaml', `${line}\n`);
  const start = line.indexOf(target);
  const text = renderDiagnostic(
    error('unknown-key', 'x', { file, range: { start, end: start + target.length } }),
  );
  return text.split('\n')[2]!.replace(/^ +\| /, '');
}

describe('source excerpts', () => {
  it('underlines after wide (CJK) characters by terminal columns, two per character', () => {
    // 10 wide characters before: 20 columns, not 10.
    expect(underline('prompt: "保留姿势，仅替换人脸", retires: 2', 'retires')).toBe(
      `${' '.repeat(32)}~~~~~~~`,
    );
    expect(underline('p: 人脸 x', '人脸')).toBe('   ~~~~');
  });

  it('keeps tabs in the padding and counts a combining mark as no column', () => {
    expect(underline('\tkey: x', 'x')).toBe('\t     ~');
    expect(underline('e\u0301: retires', 'retires')).toBe('   ~~~~~~~');
  });
});

describe('many diagnostics on one long line', () => {
  it('reads only the window it shows, so the text output stays linear in the diagnostics', () => {
    // A minified recipe: one 250 KB line with a problem every 25 characters. Count what the
    // renderer copies out of the source; copying the whole line for each of the 10,000 problems
    // made `validate` on such a file take 16 s in text against 4 s in JSON.
    const count = 10_000;
    const line = Array.from(
      { length: count },
      (_, k) => `s${String(k).padStart(5, '0')}: {model: nope}, `,
    ).join('');
    const source = new String(`{stages: {${line}}}\n`);
    let copied = 0;
    const slice = source.slice.bind(source);
    source.slice = (start?: number, end?: number) => {
      const piece = slice(start, end);
      copied += piece.length;
      return piece;
    };
    const file = new SourceFile('big.yaml', source as unknown as string);
    let out = '';
    for (let start = source.indexOf('nope'); start >= 0; start = source.indexOf('nope', start + 1))
      out = renderDiagnostic(
        error('unknown-model', 'unknown model', { file, range: { start, end: start + 4 } }),
      );
    // The last problem's excerpt: the line's last 120 characters, cut with "…".
    const shown = `${line}}}`.slice(-120);
    expect(out.split('\n').slice(1, 3)).toEqual([
      `   1 | …${shown}`,
      `     | ${' '.repeat(shown.lastIndexOf('nope') + 1)}~~~~`,
    ]);
    expect(copied / count).toBeLessThan(200);
  });
});
