/**
 * "Did you mean" suggestions. Uses the Damerau-Levenshtein (optimal string alignment) distance,
 * so a swapped pair of letters ("retires" vs "retries") counts as one edit, and accepts a
 * candidate only when it is close relative to the word's length: short words need a near-exact
 * match, or every two-letter key would "suggest" every other.
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(
        d[(i - 1) * cols + j]! + 1,
        d[i * cols + j - 1]! + 1,
        d[(i - 1) * cols + j - 1]! + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, d[(i - 2) * cols + j - 2]! + 1);
      }
      d[i * cols + j] = best;
    }
  }
  return d[rows * cols - 1]!;
}

/** The closest candidate to `word`, or undefined when none is close enough to be a likely typo. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const distance = candidate.toLowerCase() === lower ? 0.5 : editDistance(lower, candidate.toLowerCase());
    if (distance <= limit && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best ?? partOf(lower, candidates);
}

/**
 * The one candidate of which `word` is a whole `_`/`-`-separated part (`ttl` of `url_ttl`,
 * `model` of `concurrency_per_model`): a shortened name rather than a typo. Undefined when
 * several candidates share the part, or the word is too short to say anything.
 */
function partOf(word: string, candidates: Iterable<string>): string | undefined {
  if (word.length < 3) return undefined;
  const found = [...candidates].filter(
    (c) => c.toLowerCase().split(/[_-]/).includes(word) && c.toLowerCase() !== word,
  );
  return found.length === 1 ? found[0] : undefined;
}

/** `; did you mean "x"?` or the empty string, for appending to a message. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const hit = suggest(word, candidates);
  return hit === undefined ? '' : `; did you mean "${hit}"?`;
}
