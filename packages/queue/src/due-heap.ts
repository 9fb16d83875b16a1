/** A min-heap of (time, message id): which message is due next. Stale entries are allowed; the caller re-checks. */
export class DueHeap {
  #items: Array<{ at: number; id: string }> = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): number | undefined {
    return this.#items[0]?.at;
  }

  push(at: number, id: string): void {
    const items = this.#items;
    items.push({ at, id });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((items[parent]?.at ?? 0) <= at) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  /** Removes and returns the id of the earliest entry due at or before `now`. */
  popDue(now: number): string | undefined {
    const items = this.#items;
    const top = items[0];
    if (top === undefined || top.at > now) return undefined;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && items[l]!.at < items[m]!.at) m = l;
        if (r < items.length && items[r]!.at < items[m]!.at) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top.id;
  }
}
