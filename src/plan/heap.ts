/**
 * A binary min-heap by a comparison function: O(log n) push and pop. Ordering ready stages
 * of a 10,000-stage recipe by insertion into a sorted array was quadratic.
 */
export class Heap<T> {
  readonly #items: T[] = [];
  readonly #before: (a: T, b: T) => number;

  /** `before(a, b) < 0` means `a` comes out first. */
  constructor(before: (a: T, b: T) => number, items: Iterable<T> = []) {
    this.#before = before;
    for (const item of items) this.push(item);
  }

  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#before(items[i]!, items[parent]!) >= 0) break;
      const swap = items[i]!;
      items[i] = items[parent]!;
      items[parent] = swap;
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.#items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && this.#before(items[left]!, items[smallest]!) < 0) smallest = left;
        if (right < items.length && this.#before(items[right]!, items[smallest]!) < 0) smallest = right;
        if (smallest === i) break;
        const swap = items[i]!;
        items[i] = items[smallest]!;
        items[smallest] = swap;
        i = smallest;
      }
    }
    return top;
  }
}
