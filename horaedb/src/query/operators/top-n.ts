import type { Column } from "../../batch/column.js";
import { batchByteSize, takeRows, type ColumnBatch } from "../../batch/column-batch.js";
import { evaluate } from "../evaluator.js";
import type { SortKey } from "../logical-plan.js";
import type { QueryContext } from "../query-context.js";
import { concatRows } from "../vectors.js";
import { Operator } from "./operator.js";
import { rowComparator, type RowComparator } from "./row-comparator.js";
import { describeSortKeys } from "./sort.js";

/** A batch the heap may point into, with its evaluated sort keys and first row's input ordinal. */
interface HeldBatch {
  readonly batch: ColumnBatch;
  readonly keys: readonly Column[];
  /** Input ordinal of each row, so that equal keys keep input order (as a stable sort would). */
  readonly ordinals: Float64Array;
}

/**
 * ORDER BY ... LIMIT n: keeps the best `fetch` rows seen so far in a binary max-heap (the worst
 * kept row on top), so memory stays bounded by `fetch` rows however large the input. A row enters
 * only if it sorts before the top. Batches that no kept row points into are dropped; when the kept
 * rows are spread over too many batches they are copied into one.
 */
export class TopNOperator extends Operator {
  readonly children: readonly Operator[];
  #peakBytes = 0;

  constructor(
    readonly input: Operator,
    readonly keys: readonly SortKey[],
    readonly fetch: number,
  ) {
    super();
    this.children = [input];
  }

  describe(): string {
    return `TopN: fetch=${this.fetch} ${describeSortKeys(this.keys)}`;
  }

  override analyzeDetails(): string[] {
    return [`memory=${this.#peakBytes} bytes`];
  }

  protected async *produce(ctx: QueryContext): AsyncGenerator<ColumnBatch, void, undefined> {
    if (this.fetch === 0) return;
    const memory = ctx.memory.reserve("top-N sort");
    try {
      const heap = new RowHeap(this.fetch);
      let compare: RowComparator | undefined;
      let ordinal = 0;
      for await (const batch of this.input.execute(ctx)) {
        const keys = this.keys.map((k) => evaluate(k.expr, batch));
        compare ??= rowComparator(
          keys.map((c) => c.type),
          this.keys,
        );
        const ordinals = new Float64Array(batch.numRows);
        for (let i = 0; i < batch.numRows; i++) ordinals[i] = ordinal++;
        heap.offer({ batch, keys, ordinals }, compare);
        memory.resize(heap.byteSize());
        this.#peakBytes = Math.max(this.#peakBytes, memory.bytes);
      }
      if (compare === undefined || heap.size === 0) return;
      yield heap.sorted(compare);
    } finally {
      memory.release();
    }
  }
}

/** A held batch with the number of heap slots pointing into it and its size. */
interface HeldEntry {
  readonly held: HeldBatch;
  refs: number;
  readonly bytes: number;
}

class RowHeap {
  readonly #held = new Map<number, HeldEntry>();
  #nextId = 0;
  #heldRows = 0;
  #heldBytes = 0;
  /** Per heap slot: which held batch, which row. */
  #slotBatch: number[] = [];
  #slotRow: number[] = [];
  #compare: RowComparator | undefined;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.#slotBatch.length;
  }

  /** Offers every row of the batch. */
  offer(held: HeldBatch, compare: RowComparator): void {
    this.#compare = compare;
    const id = this.#hold(held);
    const entry = this.#held.get(id) as HeldEntry;
    for (let row = 0; row < held.batch.numRows; row++) {
      if (this.size < this.capacity) {
        this.#slotBatch.push(id);
        this.#slotRow.push(row);
        entry.refs++;
        this.#siftUp(this.size - 1);
      } else if (this.#rowOrder(id, row, this.#slotBatch[0] as number, this.#slotRow[0] as number) < 0) {
        // Take the new reference first: the replaced row may be of this same batch.
        entry.refs++;
        this.#release(this.#slotBatch[0] as number);
        this.#slotBatch[0] = id;
        this.#slotRow[0] = row;
        this.#siftDown(0);
      }
    }
    if (entry.refs === 0) this.#release(id, 0);
    if (this.#heldRows > 2 * this.capacity + 8192) this.#compact();
  }

  /** The kept rows, best first, as one batch. */
  sorted(compare: RowComparator): ColumnBatch {
    this.#compare = compare;
    this.#compact();
    const [id, entry] = [...this.#held][0] as [number, HeldEntry];
    const order = [...this.#slotRow];
    order.sort((a, b) => this.#rowOrder(id, a, id, b));
    return takeRows(entry.held.batch, order);
  }

  byteSize(): number {
    return 16 * this.size + this.#heldBytes;
  }

  #hold(held: HeldBatch): number {
    const id = this.#nextId++;
    const bytes = batchByteSize(held.batch) + 8 * held.batch.numRows;
    this.#held.set(id, { held, refs: 0, bytes });
    this.#heldRows += held.batch.numRows;
    this.#heldBytes += bytes;
    return id;
  }

  /** Drops one slot's reference to a held batch (`drop` of them), and the batch with the last. */
  #release(id: number, drop = 1): void {
    const entry = this.#held.get(id) as HeldEntry;
    entry.refs -= drop;
    if (entry.refs > 0) return;
    this.#held.delete(id);
    this.#heldRows -= entry.held.batch.numRows;
    this.#heldBytes -= entry.bytes;
  }

  /** Sort order of two held rows; equal keys fall back to input order. */
  #rowOrder(batchA: number, a: number, batchB: number, b: number): number {
    const x = (this.#held.get(batchA) as HeldEntry).held;
    const y = (this.#held.get(batchB) as HeldEntry).held;
    const order = (this.#compare as RowComparator)(x.keys, a, y.keys, b);
    return order !== 0 ? order : (x.ordinals[a] as number) - (y.ordinals[b] as number);
  }

  /** Max-heap on sort order: the slot that sorts last is on top. */
  #above(i: number, j: number): boolean {
    return (
      this.#rowOrder(
        this.#slotBatch[i] as number,
        this.#slotRow[i] as number,
        this.#slotBatch[j] as number,
        this.#slotRow[j] as number,
      ) > 0
    );
  }

  #swap(i: number, j: number): void {
    const b = this.#slotBatch[i] as number;
    const r = this.#slotRow[i] as number;
    this.#slotBatch[i] = this.#slotBatch[j] as number;
    this.#slotRow[i] = this.#slotRow[j] as number;
    this.#slotBatch[j] = b;
    this.#slotRow[j] = r;
  }

  #siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#above(i, parent)) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #siftDown(i: number): void {
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < n && this.#above(l, top)) top = l;
      if (r < n && this.#above(r, top)) top = r;
      if (top === i) return;
      this.#swap(i, top);
      i = top;
    }
  }

  /** Copies the kept rows into one held batch. */
  #compact(): void {
    const slotsOf = new Map<number, number[]>();
    for (let slot = 0; slot < this.size; slot++) {
      const source = this.#slotBatch[slot] as number;
      const slots = slotsOf.get(source);
      if (slots === undefined) slotsOf.set(source, [slot]);
      else slots.push(slot);
    }
    const parts: ColumnBatch[] = [];
    const keyParts: ColumnBatch[] = [];
    const ordinals = new Float64Array(this.size);
    const newRows = new Array<number>(this.size);
    let at = 0;
    for (const [source, slots] of slotsOf) {
      const { held } = this.#held.get(source) as HeldEntry;
      const rows = slots.map((slot) => this.#slotRow[slot] as number);
      parts.push(takeRows(held.batch, rows));
      keyParts.push(takeRows({ names: [], columns: held.keys, numRows: held.batch.numRows }, rows));
      slots.forEach((slot, i) => {
        newRows[slot] = at + i;
        ordinals[at + i] = held.ordinals[rows[i] as number] as number;
      });
      at += slots.length;
    }
    this.#held.clear();
    this.#heldRows = 0;
    this.#heldBytes = 0;
    const id = this.#hold({ batch: concatRows(parts), keys: concatRows(keyParts).columns, ordinals });
    (this.#held.get(id) as HeldEntry).refs = this.size;
    this.#slotBatch = this.#slotBatch.map(() => id);
    this.#slotRow = newRows;
  }
}
