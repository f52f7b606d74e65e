/**
 * A recipe's text with its line starts, so any offset maps to the 1-based line and column a
 * user's editor shows. Columns count UTF-16 code units, as editors and the LSP do.
 */
export class SourceFile {
  readonly path: string;
  readonly text: string;
  readonly #lineStarts: number[];

  constructor(path: string, text: string) {
    this.path = path;
    this.text = text;
    const starts = [0];
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) === 10) starts.push(i + 1);
    }
    this.#lineStarts = starts;
  }

  get lineCount(): number {
    return this.#lineStarts.length;
  }

  /** 1-based line and column of an offset (clamped to the text). */
  position(offset: number): { line: number; column: number } {
    const clamped = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.#lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#lineStarts[mid]! <= clamped) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: clamped - this.#lineStarts[lo]! + 1 };
  }

  /** The text of a 1-based line, without its line break. */
  lineText(line: number): string {
    const { start, end } = this.lineBounds(line);
    return this.text.slice(start, end);
  }

  /**
   * Offsets of a 1-based line's text, without its line break: a caller that shows part of a very
   * long line (a minified recipe on one line) reads only that part.
   */
  lineBounds(line: number): SourceRange {
    const start = this.#lineStarts[line - 1];
    if (start === undefined) return { start: this.text.length, end: this.text.length };
    const next = this.#lineStarts[line];
    let end = next === undefined ? this.text.length : next - 1;
    if (end > start && this.text.charCodeAt(end - 1) === 13) end -= 1;
    return { start, end };
  }
}

/** Half-open offsets into a {@link SourceFile}'s text. */
export interface SourceRange {
  readonly start: number;
  readonly end: number;
}
