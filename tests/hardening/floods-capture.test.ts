/**
 * Issue 15, items 4 and 5, at the level of the pieces: an upstream's output
 * is captured bounded (lines cut with a marker, a rate limit with a marker,
 * reading that leaves the event loop its turns), and log and event
 * subscribers share one cap and one byte budget, the slowest losing data
 * first. The end-to-end attacks are in floods.test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ModelswapError } from "../../src/errors.ts";
import { LogBuffer } from "../../src/logging/buffer.ts";
import { LogHub } from "../../src/logging/logger.ts";
import { SubscriberBudget } from "../../src/logging/subscribers.ts";
import { EventFeed } from "../../src/observability/events.ts";
import { RATE_LIMIT } from "../../src/logging/rate-limit.ts";
import { keepTail, MAX_LINE_BYTES, OutputCapture, READ_BYTES_PER_SECOND } from "../../src/upstream/lines.ts";

const encoder = new TextEncoder();

/** A stream the test writes to, and a capture reading it into `text`, with a way to await what arrives. */
function capture() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  const seen = { text: "" };
  const waiters = new Set<() => void>();
  const output = new OutputCapture((text) => {
    seen.text += text;
    for (const wake of [...waiters]) wake();
  });
  const done = output.pipe(stream);
  return {
    seen,
    write: (data: string | Uint8Array) => controller.enqueue(typeof data === "string" ? encoder.encode(data) : data),
    end: async () => {
      controller.close();
      await done;
      return seen.text;
    },
    /** Resolves with the first match of `pattern` in what was captured. */
    waitFor: (pattern: RegExp, timeoutMs = 5000) =>
      new Promise<RegExpMatchArray>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${pattern} within ${timeoutMs} ms in:\n${seen.text.slice(-500)}`));
        }, timeoutMs);
        function check() {
          const match = seen.text.match(pattern);
          if (!match) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(match);
        }
        waiters.add(check);
        check();
      }),
  };
}

describe("capturing an upstream's output", () => {
  test("lines arrive whole, across chunks, and a last line without a newline still counts", async () => {
    const c = capture();
    c.write("a\nb");
    c.write("c\n\n");
    c.write("d");
    assert.equal(await c.end(), "a\nbc\n\nd\n");
  });

  test("a line longer than 16 KiB is cut: its head shows at once with a marker, the count of cut bytes when it ends", async () => {
    const c = capture();
    c.write("before\n" + "y".repeat(10_000));
    c.write("y".repeat(10_000)); // over the cap, and no newline yet
    const [head] = await c.waitFor(/y+ \[… line longer than 16384 bytes: cut\]\n/);
    assert.equal(head.length - " [… line longer than 16384 bytes: cut]\n".length, MAX_LINE_BYTES);
    c.write("y".repeat(1_000_000));
    c.write("yyy\nafter\n");
    const text = await c.end();
    assert.equal(text, `before\n${head}[… ${20_000 + 1_000_003 - MAX_LINE_BYTES} bytes cut from that line]\nafter\n`);
  });

  test("a cut never splits a UTF-8 character", async () => {
    const c = capture();
    c.write("é".repeat(MAX_LINE_BYTES)); // two bytes each: the cap falls inside one at an odd offset
    c.write("\n");
    const text = await c.end();
    assert.ok(!text.includes("\uFFFD"), "no replacement character");
    assert.match(text, /^é+ \[… line longer than 16384 bytes: cut\]\n\[… \d+ bytes cut from that line\]\n$/);
  });

  test("lines beyond the rate are dropped and counted; the marker comes when the window ends, even if nothing else is printed", async () => {
    const c = capture();
    const lines = RATE_LIMIT.lines * 3;
    c.write("x\n".repeat(lines));
    const [marker, count] = await c.waitFor(/--- (\d+) lines dropped \(rate limit\) ---\n/, RATE_LIMIT.windowMs + 5000);
    assert.equal(Number(count), lines - RATE_LIMIT.lines, marker);
    assert.equal(c.seen.text, "x\n".repeat(RATE_LIMIT.lines) + marker);
    // A new window admits lines again.
    c.write("again\n");
    assert.match(await c.end(), /---\nagain\n$/);
  });

  test("bytes per second are limited too, and a long line is judged whole", async () => {
    const c = capture();
    const line = `${"z".repeat(999)}\n`;
    const lines = Math.ceil((RATE_LIMIT.bytes * 2) / line.length);
    c.write(line.repeat(lines));
    const text = await c.end();
    const kept = Math.floor(RATE_LIMIT.bytes / line.length);
    assert.equal(text, line.repeat(kept) + `--- ${lines - kept} lines dropped (rate limit) ---\n`);
  });

  test("a stream that never pauses gets no more than its read budget and leaves the event loop its turns", async () => {
    const flood = encoder.encode("\n".repeat(64 * 1024));
    let read = 0;
    let stop = false;
    const stream = new ReadableStream<Uint8Array>({
      // Always ready at once: without a budget, reading it would never yield to timers or I/O.
      pull: (controller) => {
        if (stop) return controller.close();
        read += flood.length;
        controller.enqueue(flood);
      },
    }, { highWaterMark: 0 });
    let captured = "";
    const done = new OutputCapture((text) => (captured += text)).pipe(stream);
    const started = performance.now();
    const lateness: number[] = [];
    for (let i = 0; i < 20; i++) {
      const asked = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 10));
      lateness.push(performance.now() - asked - 10);
    }
    const seconds = (performance.now() - started) / 1000;
    stop = true;
    await done;
    assert.ok(Math.max(...lateness) < 250, `a 10 ms timer was up to ${Math.max(...lateness).toFixed(0)} ms late while the capture read`);
    assert.ok(read <= READ_BYTES_PER_SECOND * seconds * 1.5 + 2 * flood.length, `read ${read} bytes in ${seconds.toFixed(2)} s`);
    assert.ok(read > 0);
    assert.match(captured, /^(\n+--- \d+ lines dropped \(rate limit\) ---\n)+$/);
  });

  test("the error tail keeps the last lines of what was captured, whatever the batches", () => {
    const tail: string[] = [];
    keepTail(tail, "one\ntwo\n", 3);
    keepTail(tail, "\n", 3);
    keepTail(tail, "three  \nfour\n", 3);
    assert.deepEqual(tail, ["", "three", "four"]);
  });
});

describe("log and event subscribers in total", () => {
  test("log streams and /api/events share one cap; beyond it a 503 names the limit; a closed stream frees its place", async () => {
    const budget = new SubscriberBudget(3, 1024 * 1024);
    const logs = new LogHub("both", null, 100 * 1024, budget);
    const feed = new EventFeed(() => ({}), { budget });
    try {
      const open = [logs.combined.stream(), logs.model("m").stream(), feed.subscribe()];
      for (const attempt of [() => logs.proxy.stream(), () => feed.subscribe()]) {
        assert.throws(attempt, (error: unknown) => {
          assert.ok(error instanceof ModelswapError);
          assert.equal(error.status, 503);
          assert.equal(error.code, "too_many_subscribers");
          assert.match(error.message, /at most 3 at once/);
          return true;
        });
      }
      assert.equal(budget.subscribers, 3);
      await open[0].cancel();
      await open[2].cancel();
      assert.equal(budget.subscribers, 1);
      open.push(logs.upstream.stream(), feed.subscribe());
      assert.equal(budget.subscribers, 3);
      for (const stream of open.slice(1)) await stream.cancel();
      assert.equal(budget.subscribers, 0);
      assert.equal(budget.unreadBytes, 0);
    } finally {
      feed.close();
    }
  });

  test("over the total budget the slowest readers drop first, a reader that keeps up gets everything, and the slow one is told", async () => {
    const budget = new SubscriberBudget(10, 64 * 1024);
    const buffer = new LogBuffer(100 * 1024, [], null, budget);
    const stuck = [buffer.stream({ history: false }), buffer.stream({ history: false })];
    const live = buffer.stream({ history: false }).getReader();
    const line = `${"w".repeat(1023)}\n`;
    let received = 0;
    for (let i = 0; i < 1000; i++) {
      buffer.write(line);
      received += (await live.read()).value!.length;
    }
    assert.equal(received, 1000 * line.length, "the reader that kept up lost nothing");
    assert.ok(budget.unreadBytes <= 64 * 1024 + 2 * line.length, `unread ${budget.unreadBytes} bytes, over the budget`);
    // Each stuck reader holds about half the budget (its even share), far less than its own 256 KiB bound.
    const slow = stuck[0].getReader();
    let text = "";
    while (!/bytes dropped/.test(text)) {
      if (text.length > 256 * 1024) assert.fail("the stuck reader held more than its share");
      buffer.write(line); // the marker goes out with the next line that fits
      text += new TextDecoder().decode((await slow.read()).value);
    }
    assert.match(text, /--- \d+ bytes dropped ---\n/);
    await Promise.all([slow.cancel(), stuck[1].cancel(), live.cancel()]);
    assert.equal(budget.subscribers, 0);
  });

  test("event subscribers over the budget drop messages instead of holding more", async () => {
    const budget = new SubscriberBudget(10, 16 * 1024);
    const feed = new EventFeed(() => ({ whole: true }), { budget });
    try {
      const stuck = [feed.subscribe(), feed.subscribe(), feed.subscribe(), feed.subscribe()];
      for (let i = 0; i < 1000; i++) feed.publish("tick", { i, pad: "p".repeat(200) });
      assert.ok(feed.dropped > 0, "messages were dropped");
      assert.ok(budget.unreadBytes <= 16 * 1024 * 2, `unread ${budget.unreadBytes} bytes`);
      for (const stream of stuck) await stream.cancel();
    } finally {
      feed.close();
    }
  });
});
