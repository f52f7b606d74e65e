import { describe, expect, it } from 'vitest';
import { baseNames, matchDownloads } from '../src/backends/runcomfy/downloads.js';

// Which file of a fresh result folder belongs to which output URL (runcomfy-contract.md §5).
describe('output file names', () => {
  it('covers every reading of "last non-empty path segment, percent-escapes kept as-is"', () => {
    const names = baseNames('https://files.runcomfy.net/r1/a\\b.png?sig=1#x');
    // As parsed (WHATWG: `\` separates) and as written (`\` becomes `_`).
    expect(names).toContain('b.png');
    expect(names).toContain('a_b.png');
    const spaced = baseNames('https://files.runcomfy.net/r1/my result.png');
    expect(spaced[0]).toBe('my%20result.png');
    expect(spaced).toContain('my result.png');
    expect(baseNames('https://files.runcomfy.net/r1/')).toEqual(['r1']);
    expect(baseNames('https://files.runcomfy.net/')).toEqual(['output']);
  });

  it('matches files by name first, suffixes included, in URL order', () => {
    const urls = ['https://files.runcomfy.net/r/out.png', 'https://files.runcomfy.net/s/out.png'];
    const match = matchDownloads(urls, ['out-1.png', 'out.png']);
    expect(match.ordered).toEqual(['out.png', 'out-1.png']);
    expect(match.missing).toEqual([]);
  });

  it('takes the one file no name explains as the file of the one URL without one, and guesses no further', () => {
    const urls = [
      'https://files.runcomfy.net/r/first.png',
      'https://files.runcomfy.net/r/%E2%9C%93.png',
      'https://files.runcomfy.net/r/third.png',
    ];
    const match = matchDownloads(urls, ['first.png', 'zz-unexpected.png', 'third.png']);
    expect(match.missing).toEqual([]);
    expect(match.byUrl.get(urls[1]!)).toBe('zz-unexpected.png');
    expect(match.ordered).toEqual(['first.png', 'zz-unexpected.png', 'third.png']);
    // Two unexplained files for two URLs: which is which is unknown, so nothing is guessed; nor
    // when one download failed and another file is named unexpectedly.
    const two = matchDownloads(urls, ['first.png', 'zz-a.png', 'zz-b.png']);
    expect(two.missing).toEqual([urls[1], urls[2]]);
    const unsure = matchDownloads(urls, ['first.png', 'zz-unexpected.png']);
    expect(unsure.missing).toEqual([urls[1], urls[2]]);
    expect(unsure.ordered).toEqual(['first.png', 'zz-unexpected.png']);
  });
});
