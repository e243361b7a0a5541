/**
 * The store's write-behind queue: adding never waits for the writer, items
 * are written in batches (every 250 ms, at once from 200 waiting), a writer
 * that stalls or fails never holds up the adder, and the queue stays
 * bounded, dropping (and counting) the oldest when the writer cannot keep up.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { WriteQueue } from "../../src/store/write-queue.ts";
import { waitFor } from "../helpers/process.ts";

describe("the write queue", () => {
  test("items are written in batches: after the interval, or at once when 200 wait", async () => {
    const batches: number[][] = [];
    const queue = new WriteQueue<number>({ write: (batch) => void batches.push(batch), intervalMs: 100 });
    for (let i = 0; i < 5; i++) queue.push(i);
    assert.equal(batches.length, 0, "nothing is written while the items are added");
    await waitFor(() => batches.length === 1, { what: "the interval's batch" });
    assert.deepEqual(batches[0], [0, 1, 2, 3, 4]);
    const started = performance.now();
    for (let i = 0; i < 450; i++) queue.push(i);
    await waitFor(() => queue.pending === 0, { what: "the backlog to be written" });
    assert.ok(performance.now() - started < 100, "a full batch does not wait for the interval");
    assert.deepEqual(batches.slice(1).map((b) => b.length), [450], "one timer tick writes what waits, up to 1,000 items");
    assert.equal(queue.written, 455);
    queue.close();
  });

  test("a writer that stalls never slows the adder; the queue stays bounded and counts what it drops", async () => {
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    const written: number[] = [];
    const queue = new WriteQueue<number>({
      write: async (batch) => {
        await stalled;
        written.push(...batch);
      },
      maxItems: 1000,
      intervalMs: 10,
    });
    queue.push(0);
    await waitFor(() => queue.pending === 1 && written.length === 0, { what: "a batch in flight" });
    await new Promise((resolve) => setTimeout(resolve, 30)); // the writer is now stuck in the first batch
    const started = performance.now();
    for (let i = 1; i <= 100_000; i++) queue.push(i);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 1000, `100,000 adds took ${elapsed.toFixed(0)} ms while the writer stalled`);
    assert.equal(queue.pending, 1000, "bounded");
    assert.equal(queue.dropped, 100_000 - 999, "the oldest waiting ones, never the batch being written");
    release();
    await waitFor(() => queue.pending === 0, { what: "the writer to catch up" });
    assert.equal(written[0], 0, "the stalled batch was written");
    assert.deepEqual(written.slice(1, 3), [99_002, 99_003], "the newest items were kept");
    assert.equal(written.length, 1000);
    queue.close();
  });

  test("a failing batch stays queued and is tried again, less often, until it is written; flush writes what waits", async () => {
    let failing = true;
    const written: number[] = [];
    const errors: number[] = [];
    let recovered = 0;
    const queue = new WriteQueue<number>({
      write: (batch) => {
        if (failing) throw new Error("database is locked");
        written.push(...batch);
      },
      onError: (_error, failures) => errors.push(failures),
      onRecovered: (failures) => (recovered = failures),
      intervalMs: 20,
    });
    queue.push(1);
    queue.push(2);
    await waitFor(() => errors.length >= 3, { what: "retries" });
    assert.deepEqual(errors.slice(0, 3), [1, 2, 3]);
    assert.equal(queue.flush(), false);
    assert.equal(queue.pending, 2);
    failing = false;
    assert.equal(queue.flush(), true, "a reader's flush writes at once");
    assert.deepEqual(written, [1, 2]);
    assert.ok(recovered >= 3);
    assert.equal(queue.errors, errors.length);
    queue.push(3);
    queue.close();
    assert.deepEqual(written, [1, 2, 3], "close writes what is left");
  });

  test("the byte bound drops the oldest items too", () => {
    const queue = new WriteQueue<string>({ write: () => {}, sizeOf: (item) => item.length, maxBytes: 100, intervalMs: 60_000 });
    for (let i = 0; i < 10; i++) queue.push("x".repeat(30));
    assert.equal(queue.pending, 3);
    assert.equal(queue.dropped, 7);
    queue.close();
  });
});
