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
