// Bounded record buffer with lowest-severity-first dropping (runs in the transport worker).
//
// Contract:
// - Capacity is counted in serialized NDJSON bytes (each entry's `line` incl. its "\n").
//   queuedBytes + inFlightBytes never exceeds maxBytes: records taken for a request stay
//   accounted until release(), because their memory is still held while retrying.
// - When an incoming record does not fit, the least important buffered records are evicted:
//   highest RFC 5424 severity number first (debug 7 before info 6 before warning 4 …;
//   https://www.rfc-editor.org/rfc/rfc5424#section-6.2.1).
//   Within one severity the NEWEST record goes first, and the incoming record is dropped itself
//   when nothing queued is strictly less important — so what survives an outage is a contiguous
//   history from its start. In-flight records are never evicted.
// - take() returns records in arrival order across severities.

export interface Entry {
  seq: number;
  severity: number;
  line: string;
  bytes: number;
  /** when queued, in ms of the caller's clock (the shipper's never steps) */
  at: number;
}

/** FIFO with O(1) push/shift/pop. */
class Deque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  peek(): T | undefined {
    return this.items[this.head];
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  pop(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items.pop();
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return item;
  }
}

export interface AddResult {
  /** false when the incoming record itself was dropped */
  accepted: boolean;
  /** number of previously queued records evicted to make room */
  evicted: number;
  /** the incoming record alone is larger than the whole buffer */
  tooLarge?: boolean;
}

export class RecordBuffer {
  readonly maxBytes: number;
  private readonly queues: Deque<Entry>[] = Array.from({ length: 8 }, () => new Deque<Entry>());
  private seq = 0;
  queuedBytes = 0;
  queuedCount = 0;
  inFlightBytes = 0;
  inFlightCount = 0;
  /** Smallest record ever accepted (for certainlyRejects). */
  private minBytes = Infinity;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get totalBytes(): number {
    return this.queuedBytes + this.inFlightBytes;
  }

  /** Records held: queued and in flight. */
  get totalCount(): number {
    return this.queuedCount + this.inFlightCount;
  }

  add(severity: number, line: string, now: number = Date.now()): AddResult {
    const sev = Math.min(7, Math.max(0, Math.trunc(severity)));
    const bytes = Buffer.byteLength(line);
    let evicted = 0;
    if (bytes > this.maxBytes) return { accepted: false, evicted, tooLarge: true };
    while (this.totalBytes + bytes > this.maxBytes) {
      const victim = this.leastImportantQueue();
      // Nothing strictly less important than the incoming record: drop the incoming one.
      if (victim === -1 || victim <= sev) return { accepted: false, evicted };
      const entry = this.queues[victim].pop()!;
      this.queuedBytes -= entry.bytes;
      this.queuedCount--;
      evicted++;
    }
    this.queues[sev].push({ seq: this.seq++, severity: sev, line, bytes, at: now });
    if (bytes < this.minBytes) this.minBytes = bytes;
    this.queuedBytes += bytes;
    this.queuedCount++;
    return { accepted: true, evicted };
  }

  /**
   * Removes up to maxRecords / maxBytes records (at least one, even if larger than maxBytes)
   * in arrival order and accounts them as in flight until release().
   */
  take(maxRecords: number, maxBytes: number): Entry[] {
    const batch: Entry[] = [];
    let bytes = 0;
    while (batch.length < maxRecords) {
      let best = -1;
      for (let s = 0; s < 8; s++) {
        const head = this.queues[s].peek();
        if (head && (best === -1 || head.seq < this.queues[best].peek()!.seq)) best = s;
      }
      if (best === -1) break;
      const next = this.queues[best].peek()!;
      if (batch.length > 0 && bytes + next.bytes > maxBytes) break;
      this.queues[best].shift();
      batch.push(next);
      bytes += next.bytes;
    }
    this.queuedBytes -= bytes;
    this.queuedCount -= batch.length;
    this.inFlightBytes += bytes;
    this.inFlightCount += batch.length;
    return batch;
  }

  /** Frees the accounting of records returned by take() (sent or given up on). */
  release(entries: Entry[]): void {
    for (const e of entries) this.inFlightBytes -= e.bytes;
    this.inFlightCount -= entries.length;
  }

  /** Removes every queued record (not the in-flight ones); returns how many. */
  clear(): number {
    const n = this.queuedCount;
    for (const q of this.queues) while (q.pop() !== undefined);
    this.queuedBytes = 0;
    this.queuedCount = 0;
    return n;
  }

  /**
   * Cheap pre-check, before a record is even built: true when a record of this severity would be
   * refused anyway — nothing strictly less important is queued and not even the smallest record
   * seen so far fits. (A record smaller than any before may thus be refused although it would
   * have fit; it is counted as buffer_full like any other.)
   */
  certainlyRejects(severity: number): boolean {
    if (this.minBytes === Infinity || this.maxBytes - this.totalBytes >= this.minBytes) return false;
    return this.leastImportantQueue() <= severity;
  }

  /** When the oldest queued record was queued (undefined when empty). */
  oldestAt(): number | undefined {
    let oldest: Entry | undefined;
    for (const q of this.queues) {
      const head = q.peek();
      if (head && (!oldest || head.seq < oldest.seq)) oldest = head;
    }
    return oldest?.at;
  }

  private leastImportantQueue(): number {
    for (let s = 7; s >= 0; s--) if (this.queues[s].length > 0) return s;
    return -1;
  }
}
