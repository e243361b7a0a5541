/**
 * Issue 15, item 1 (client connections never timed out, no cap, EMFILE fatal
 * on Deno), item 6 (a pipelined request after a proxied one dropped both on
 * Bun) and the Bun part of item 9 (HTTP/1.0 without Host lost its first path
 * segment), through the real router: from source on this runtime and as the
 * compiled binary. While the attacks run, a neighbour keeps asking /health
 * and a chat to another model (tests/hardening/neighbour.ts).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ensureDist, EXECUTABLE } from "../build/dist.ts";
import { chat, demoCmd, eventually, postJson, type RouterProcess, routerArgv, startRouter } from "../e2e/harness.ts";
import { pidAlive } from "../helpers/process.ts";
import { describeReport, type NeighbourReport, startNeighbour } from "./neighbour.ts";
import { RawSocket, responses } from "./raw-socket.ts";

/** Generous bounds for a shared, noisy 2-core machine. */
const LATENCY_BOUND_MS = 2500;
const RSS_BOUND_MIB = 300;

/** Two models the neighbour and the attacks use; `slow` pauses its stream for 2.5 s after the first tokens. */
function config(server: string): string {
  return `
server: { ${server} }
models:
  quiet:
    cmd: ${demoCmd("--model quiet --token-ms 1")}
  slow:
    cmd: ${demoCmd("--model slow --token-ms 1 --stall-ms 2500")}
groups:
  all: { swap: false, members: [quiet, slow] }
`;
}

const CHAT = JSON.stringify(chat("quiet", { max_tokens: 4 }));

/** A raw chat request to `quiet` (its body split off when `bodyBytes` is given). */
function chatHead(bodyBytes = CHAT.length): string {
  return `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${bodyBytes}\r\n\r\n`;
}

/** Start the neighbour and wait for its first round, so that its connections exist before an attack begins. */
async function neighbourOf(router: RouterProcess) {
  const neighbour = startNeighbour(router.url, "quiet", router.proc.pid);
  const first = await postJson(`${router.url}/v1/chat/completions`, chat("quiet", { max_tokens: 4 }));
  assert.equal(first.status, 200, await first.text());
  return neighbour;
}

function assertNeighbourFine(report: NeighbourReport, fdsBound: number): void {
  const summary = describeReport(report);
  assert.deepEqual(report.failures, [], summary);
  assert.ok(report.rounds > 0, summary);
  assert.ok(report.healthMaxMs < LATENCY_BOUND_MS, `health was slow: ${summary}`);
  assert.ok(report.chatMaxMs < LATENCY_BOUND_MS, `the neighbour's chat was slow: ${summary}`);
  assert.ok(report.rssMaxMiB < RSS_BOUND_MIB, `RSS grew: ${summary}`);
  assert.ok(report.fdsMax < fdsBound, `open files grew: ${summary}`);
}

/** Requests counted in /metrics for `model`, by status. */
async function requestCounts(url: string, model: string): Promise<Record<string, number>> {
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const [, labels, value] of metrics.matchAll(/^modelswap_requests_total\{([^}]*)\} (\d+)$/gm)) {
    if (!labels.includes(`model="${model}"`)) continue;
    const status = /status="(\d+)"/.exec(labels)![1];
    counts[status] = (counts[status] ?? 0) + Number(value);
  }
  return counts;
}

for (const [name, program] of [["from source", null], ["compiled binary", [EXECUTABLE]]] as const) {
  describe(`client connections (${name})`, () => {
    const routers: RouterProcess[] = [];
    const sockets: RawSocket[] = [];
    const start = async (yaml: string, wrap: string[] = []) => {
      const router = await startRouter(yaml, [], {}, [...wrap, ...(program ?? routerArgv())]);
      routers.push(router);
      return router;
    };
    const open = async (router: RouterProcess, count: number) => {
      const opened = await Promise.all(Array.from({ length: count }, () => RawSocket.open(router.url)));
      sockets.push(...opened);
      return opened;
    };

    before(async () => {
      if (program) await ensureDist();
    });

    after(async () => {
      for (const socket of sockets) socket.close();
      for (const router of routers) await router.stop();
    });

    test("idle, dribbling and stalled connections are closed on time; steady slow bodies and the neighbour are served", async () => {
      const router = await start(config("headerTimeout: 2, idleTimeout: 1, bodyTimeout: 2"));
      const neighbour = await neighbourOf(router);
      const [idle, dribbling, stalled, steady] = await Promise.all([10, 10, 10, 3].map((count) => open(router, count)));
      for (const client of idle) client.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
      for (const client of dribbling) void client.dribble(`GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ${"a".repeat(40)}\r\n\r\n`, 1000);
      for (const client of stalled) client.write(`${chatHead()}${CHAT.slice(0, 10)}`);
      // All of the body but its last 8 bytes at once, then one byte every 600 ms: 4.8 s, never 2 s without a byte.
      for (const client of steady) {
        client.write(`${chatHead()}${CHAT.slice(0, -8)}`);
        void client.dribble(CHAT.slice(-8), 600);
      }
      await Promise.all(idle.map((client) => client.waitForResponses(1)));
      const answered = performance.now();
      await Promise.all([...idle, ...dribbling, ...stalled].map((client) => client.waitForClose(8000)));
      await Promise.all(steady.map((client) => client.waitForResponses(1, 10_000)));
      const report = await neighbour.stop();

      for (const client of idle) {
        const quiet = client.closedAt! - answered;
        assert.ok(quiet > 500 && quiet < 4000, `an idle connection was closed ${quiet.toFixed(0)} ms after its answer`);
        assert.deepEqual(responses(client.text).map((r) => r.status), [200]);
      }
      for (const client of [...dribbling, ...stalled]) {
        assert.ok(client.lifetimeMs! > 1500 && client.lifetimeMs! < 6000, `closed after ${client.lifetimeMs!.toFixed(0)} ms`);
        assert.deepEqual(responses(client.text).map((r) => r.status), [408], client.text);
      }
      for (const client of steady) {
        assert.deepEqual(responses(client.text).map((r) => r.status), [200]);
        assert.equal(client.isClosed, false);
      }
      assertNeighbourFine(report, 200);
      // The three slow bodies were answered and counted like any chat (the neighbour's too); none failed.
      const counts = await requestCounts(router.url, "quiet");
      assert.deepEqual(Object.keys(counts), ["200"], JSON.stringify(counts));
      assert.ok(counts[200] >= report.rounds + 3, JSON.stringify(counts));
    });

    test("connections over maxConnections get a 503 with Connection: close at once; the open ones and the neighbour keep working", async () => {
      const router = await start(config("maxConnections: 20, headerTimeout: 60, idleTimeout: 60"));
      const neighbour = await neighbourOf(router);
      const flood = await open(router, 60);
      await eventually(() => flood.filter((client) => client.isClosed).length >= 40, 5000, "40 refusals");
      const report = await neighbour.stop();

      const refused = flood.filter((client) => client.isClosed);
      const held = flood.filter((client) => !client.isClosed);
      assert.ok(held.length > 0 && held.length < 20, `${held.length} held`);
      assert.equal(refused.length + held.length, 60);
      for (const client of refused) {
        const [refusal] = responses(client.text);
        assert.equal(refusal?.status, 503, client.text);
        assert.match(refusal.head, /^connection: close$/im);
        assert.match(JSON.parse(refusal.body).error.message, /server\.maxConnections/);
        assert.ok(client.lifetimeMs! < 2000, `refused after ${client.lifetimeMs!.toFixed(0)} ms`);
      }
      assertNeighbourFine(report, 150);
      assert.match(router.output(), /refused a connection from 127\.0\.0\.1 with 503: \d+ client connections are open \(server\.maxConnections\)/);
      // A held connection is served; once they go, new ones are taken again.
      held[0].write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.deepEqual((await held[0].waitForResponses(1)).map((r) => [r.status, r.body]), [[200, "OK"]]);
      for (const client of held) client.close();
      await eventually(async () => (await fetch(`${router.url}/health`)).status === 200, 5000, "a new connection to be served");
    });

    test("at a low open-file limit the router refuses what does not fit, never dies, and serves again once the connections go", async () => {
      const router = await start(config("headerTimeout: 60, idleTimeout: 60"), ["sh", "-c", 'ulimit -n 64; exec "$0" "$@"']);
      const neighbour = await neighbourOf(router);
      const flood = await open(router, 200);
      await eventually(() => flood.filter((client) => client.isClosed).length >= 150, 5000, "150 refusals");
      const report = await neighbour.stop();

      assert.match(router.output(), /the open-file limit \(ulimit -n\) is 64/);
      assert.match(router.output(), /refused a connection .* the open-file limit leaves no room/);
      assert.ok(report.fdsMax <= 64, describeReport(report));
      assertNeighbourFine(report, 65);
      for (const client of flood) client.close();
      await eventually(async () => {
        const response = await postJson(`${router.url}/v1/chat/completions`, chat("quiet", { max_tokens: 4 }));
        return response.status === 200 && (await response.text()).includes("chat.completion");
      }, 5000, "a new connection to be served");
      assert.ok(pidAlive(router.proc.pid), router.output().slice(-2000));
    });

    test("a stream silent for longer than every timeout is not cut", async () => {
      const router = await start(config("headerTimeout: 1, idleTimeout: 1, bodyTimeout: 1"));
      const started = performance.now();
      const response = await postJson(`${router.url}/v1/chat/completions`, chat("slow", { stream: true, max_tokens: 8 }));
      const body = await response.text();
      assert.equal(response.status, 200, body);
      assert.match(body, /data: \[DONE\]/);
      assert.ok(performance.now() - started > 2500, "the stream did pause");
    });

    test("a pipelined pair on one raw socket gets both answers, in order", async () => {
      const router = await start(config("idleTimeout: 5"));
      const [client] = await open(router, 1);
      client.write(`${chatHead()}${CHAT}GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n`);
      const answers = await client.waitForResponses(2, 15_000);
      assert.deepEqual(answers.map((r) => r.status), [200, 200], client.text);
      assert.equal(JSON.parse(answers[0].body).object, "chat.completion");
      assert.equal(client.isClosed, false);
      assert.deepEqual(await requestCounts(router.url, "quiet"), { 200: 1 });
    });

    test("an HTTP/1.0 request without Host reaches the right route with its whole path", async () => {
      const router = await start(config("idleTimeout: 5"));
      const [client] = await open(router, 1);
      // (Bun once saw "/status" here: /api/status lost its first segment and was a 404.)
      client.write("GET /api/status HTTP/1.0\r\n\r\n");
      await client.waitForClose(5000);
      const [answer] = responses(client.text);
      assert.equal(answer?.status, 200, client.text);
      assert.deepEqual(JSON.parse(answer.body).models.map((model: { model: string }) => model.model).sort(), ["quiet", "slow"]);
    });
  });
}
