/**
 * HTTPS with `-tls-cert-file`/`-tls-key-file`: a real router serves chats,
 * streams and WebSockets (wss) over TLS with a certificate made here; TLS
 * ends where the router accepts connections, so the header timeout and the
 * connection cap apply to HTTPS clients too, a handshake that never ends
 * included; plain HTTP sent to the HTTPS port is closed at once; wrong files
 * are a one-line error naming the file. The compiled binary serves HTTPS too.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { connect as connectTcp } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as connectTls, type TLSSocket } from "node:tls";
import { after, before, describe, test } from "node:test";
import { ensureDist, EXECUTABLE } from "../build/dist.ts";
import { processFootprint } from "../hardening/neighbour.ts";
import { Output, scriptArgv, testsPath, waitFor } from "../helpers/process.ts";
import type { ChildProcess } from "../../src/runtime/runtime.ts";
import { chat, demoCmd, routerArgv, runtime, writeConfig } from "./harness.ts";

/** A certificate for 127.0.0.1 (its own CA) and its key, plus a key of another certificate. */
interface TestCertificate {
  certFile: string;
  keyFile: string;
  otherKeyFile: string;
  /** The certificate's PEM text: what clients trust. */
  ca: string;
}

async function openssl(args: string[]): Promise<void> {
  const proc = runtime.spawn({ argv: ["openssl", ...args], output: "pipe" });
  const [stderr, status] = await Promise.all([new Response(proc.stderr).text(), proc.exited, new Response(proc.stdout).text()]);
  assert.equal(status.code, 0, `openssl ${args.join(" ")} failed:\n${stderr}`);
}

async function makeCertificate(): Promise<TestCertificate> {
  const dir = mkdtempSync(join(tmpdir(), "modelswap-tls-"));
  const self = (name: string, extra: string[]) =>
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost", ...extra, "-keyout", join(dir, `${name}.key`), "-out", join(dir, `${name}.pem`)]);
  await Promise.all([self("router", ["-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE"]), self("other", [])]);
  const certFile = join(dir, "router.pem");
  return { certFile, keyFile: join(dir, "router.key"), otherKeyFile: join(dir, "other.key"), ca: readFileSync(certFile, "utf8") };
}

/**
 * `fetch` and `WebSocket` options that trust `ca`: Bun takes `tls: { ca }`,
 * Deno an HTTP client made with `Deno.createHttpClient({ caCerts })`.
 */
function trusting(ca: string): { init: Record<string, unknown>; close(): void } {
  if (runtime.name === "bun") return { init: { tls: { ca } }, close() {} };
  const deno = (globalThis as unknown as { Deno: { createHttpClient(options: { caCerts: string[] }): { close(): void } } }).Deno;
  const client = deno.createHttpClient({ caCerts: [ca] });
  return { init: { client }, close: () => client.close() };
}

/** A router serving HTTPS, started with the certificate's flags. */
interface HttpsRouter {
  url: string;
  proc: ChildProcess;
  output: Output;
  stop(): Promise<void>;
}

async function startHttpsRouter(yaml: string, cert: TestCertificate, program = routerArgv()): Promise<HttpsRouter> {
  // A random port range per router keeps suites that run at the same time from meeting on 5800.
  const configPath = writeConfig(`startPort: ${20000 + Math.floor(Math.random() * 400) * 100}\n${yaml}`);
  const proc = runtime.spawn({
    argv: [...program, "-config", configPath, "-listen", "127.0.0.1:0", "-tls-cert-file", cert.certFile, "--tls-key-file=" + cert.keyFile],
    output: "pipe",
  });
  const output = new Output(proc.stdout);
  const stderr = new Output(proc.stderr);
  const stop = async () => {
    proc.kill("SIGTERM");
    await proc.exited;
  };
  try {
    const match = await output.match(/listening on (https:\/\/127\.0\.0\.1:\d+)/, 20_000);
    return { url: match[1], proc, output, stop };
  } catch (error) {
    proc.kill("SIGKILL");
    throw new Error(`${(error as Error).message}\nstderr:\n${stderr.text}`);
  }
}

/** A TLS connection trusting `ca`, once its handshake is done. */
function openTls(url: string, ca: string): Promise<TLSSocket> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connectTls({ host: "127.0.0.1", port: Number(port), ca }, () => resolve(socket));
    socket.once("error", reject);
  });
}

/** What came back on a connection and when it closed. */
interface Outcome {
  text: string;
  /** Milliseconds from `since` to the close. */
  closedAfterMs: number;
}

/** Collect what `socket` receives until the server closes it (or `timeoutMs` passes: a failure). */
function untilClosed(socket: TLSSocket | ReturnType<typeof connectTcp>, since: number, timeoutMs = 15_000): Promise<Outcome> {
  let text = "";
  socket.on("data", (chunk: Uint8Array) => (text += new TextDecoder("latin1").decode(chunk)));
  socket.on("error", () => {}); // a reset is a close too
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the router did not close the connection within ${timeoutMs} ms; received: ${text}`));
    }, timeoutMs);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve({ text, closedAfterMs: performance.now() - since });
    });
  });
}

/** A connected WebSocket with its messages queued in order. */
async function openWebSocket(url: string, init: Record<string, unknown>) {
  // Both runtimes take an options object (Bun: `tls`, Deno: `client`) in place of the protocols.
  const socket = new WebSocket(url, init as unknown as string[]);
  socket.binaryType = "arraybuffer";
  const inbox: Array<string | ArrayBuffer> = [];
  const waiting: Array<(message: string | ArrayBuffer) => void> = [];
  socket.onmessage = (event) => {
    const wake = waiting.shift();
    if (wake) wake(event.data);
    else inbox.push(event.data);
  };
  const closed = new Promise<CloseEvent>((resolve) => socket.addEventListener("close", resolve, { once: true }));
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve(), { once: true });
    socket.addEventListener("error", () => reject(new Error(`could not open ${url}`)), { once: true });
  });
  const next = () => (inbox.length ? Promise.resolve(inbox.shift()!) : new Promise<string | ArrayBuffer>((resolve) => waiting.push(resolve)));
  return { socket, next, closed };
}

const echo = scriptArgv(testsPath("helpers/ws-echo.ts")).map((word) => `'${word}'`).join(" ");
const CONFIG = `
logToStdout: both
models:
  m:
    cmd: ${demoCmd("--token-ms 20")}
  echo:
    cmd: ${JSON.stringify(`${echo} --port \${PORT}`)}
`;

describe(`HTTPS (${runtime.name})`, () => {
  let cert: TestCertificate;
  let router: HttpsRouter;
  let client: ReturnType<typeof trusting>;

  const post = (path: string, body: unknown) =>
    fetch(`${router.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      ...client.init,
    } as RequestInit);

  before(async () => {
    cert = await makeCertificate();
    client = trusting(cert.ca);
    router = await startHttpsRouter(CONFIG, cert);
  });
  after(async () => {
    await router?.stop();
    client?.close();
  });

  test("a chat is answered over HTTPS, and the router says it listens on https://", async () => {
    assert.match(router.output.text, /listening on https:\/\/127\.0\.0\.1:\d+ with 2 models/);
    const response = await post("/v1/chat/completions", chat("m"));
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.match(body.choices[0].message.content, /Hello from the modelswap demo upstream/);
    await assert.rejects(fetch(`${router.url}/health`), "a client that does not trust the certificate is refused");
  });

  test("a stream over HTTPS arrives event by event", async () => {
    const started = performance.now();
    const response = await post("/v1/chat/completions", chat("m", { stream: true }));
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
    const reads: number[] = [];
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of response.body!) {
      reads.push(performance.now() - started);
      text += decoder.decode(chunk, { stream: true });
    }
    const events = text.split("\n\n").filter((event) => event.startsWith("data: "));
    assert.ok(events.length >= 5, `several events: ${text}`);
    assert.equal(events.at(-1), "data: [DONE]");
    // The demo sends a token every 20 ms: they come in many reads, not in one at the end.
    assert.ok(reads.length >= 3, `the stream came in ${reads.length} reads`);
  });

  test("wss through /upstream reaches the model's WebSocket server, large messages included", async () => {
    const base = router.url.replace(/^https/, "wss");
    const { socket, next, closed } = await openWebSocket(`${base}/upstream/echo/live?burst=500`, client.init);
    assert.equal(await next(), "path /live?burst=500");
    for (let i = 1; i <= 500; i++) assert.equal(await next(), `burst ${i}`);
    const big = new Uint8Array(2 * 1024 * 1024).map((_, i) => i % 251);
    socket.send(big);
    const back = new Uint8Array((await next()) as ArrayBuffer);
    assert.equal(back.length, big.length);
    assert.ok(back.every((byte, i) => byte === i % 251), "2 MiB come back intact through TLS both ways");
    socket.close(1000, "done");
    await closed;
    await router.output.match(/ws-echo closed 1000 done/);
  });

  test("plain HTTP sent to the HTTPS port is closed at once, and the router serves on", async () => {
    const { port } = new URL(router.url);
    const started = performance.now();
    const socket = connectTcp(Number(port), "127.0.0.1");
    socket.on("connect", () => socket.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    const outcome = await untilClosed(socket, started);
    assert.doesNotMatch(outcome.text, /^HTTP\//, "no HTTP answer in the clear");
    assert.ok(outcome.closedAfterMs < 5000, `closed after ${Math.round(outcome.closedAfterMs)} ms, not by the 10 s header timeout`);
    const health = await fetch(`${router.url}/health`, client.init as RequestInit);
    assert.equal(health.status, 200);
  });
});

describe(`HTTPS keeps the connection bounds (${runtime.name})`, () => {
  let cert: TestCertificate;
  let timed: HttpsRouter;
  let capped: HttpsRouter;
  let client: ReturnType<typeof trusting>;
  const config = (server: string) => `server: { ${server} }\nmodels:\n  m:\n    cmd: ${demoCmd()}\n`;

  before(async () => {
    cert = await makeCertificate();
    client = trusting(cert.ca);
    [timed, capped] = await Promise.all([
      startHttpsRouter(config("headerTimeout: 2") + `  slow:\n    cmd: ${demoCmd("--stall-ms 6000")}\n`, cert),
      startHttpsRouter(config("maxConnections: 3"), cert),
    ]);
  });
  after(async () => {
    await Promise.all([timed?.stop(), capped?.stop()]);
    client?.close();
  });

  test("the header timeout closes a TLS client that never finishes its handshake or its head", async () => {
    const { port } = new URL(timed.url);
    const started = performance.now();
    // 1: TCP only, not a byte of TLS.
    const silent = connectTcp(Number(port), "127.0.0.1");
    // 2: half a handshake (a ClientHello's first bytes), then nothing.
    const halfHello = connectTcp(Number(port), "127.0.0.1");
    halfHello.on("connect", () => halfHello.write(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])));
    // 3: a finished handshake, then no request; 4: half a request head.
    const [idle, partial] = await Promise.all([openTls(timed.url, cert.ca), openTls(timed.url, cert.ca)]);
    partial.write("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    const outcomes = await Promise.all([silent, halfHello, idle, partial].map((socket) => untilClosed(socket, started)));
    for (const [i, outcome] of outcomes.entries()) {
      assert.ok(outcome.closedAfterMs >= 1500, `connection ${i + 1} was closed by the timeout, not at once (${Math.round(outcome.closedAfterMs)} ms)`);
    }
    assert.equal(outcomes[2].text, "", "nothing is said to a connection that sent nothing");
    assert.match(outcomes[3].text, /^HTTP\/1\.1 408 [^]*server\.headerTimeout/, "a partial head gets the 408, through TLS");
    const health = await fetch(`${timed.url}/health`, client.init as RequestInit);
    assert.equal(health.status, 200, "the router serves on");
    await health.arrayBuffer();
  });

  test("a client that keeps sending behind a response still coming is paused, not buffered", async () => {
    const socket = await openTls(timed.url, cert.ca);
    socket.on("error", () => {});
    let received = "";
    socket.on("data", (chunk: Uint8Array) => (received += new TextDecoder().decode(chunk)));
    try {
      const body = JSON.stringify(chat("slow", { stream: true }));
      socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      await waitFor(() => received.includes("data: "), { timeoutMs: 20_000, what: "the first tokens of the stalled stream" });
      const rssBefore = processFootprint(timed.proc.pid).rssMiB;
      // A pipelined request with a 64 MiB body, sent while the first response is still coming.
      const total = 64 * 1024 * 1024;
      socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${total}\r\n\r\n`);
      const chunk = new Uint8Array(256 * 1024).fill(32);
      let sent = 0;
      // Write until the router stops taking bytes: a write that waits over a second for its drain.
      while (sent < total) {
        sent += chunk.length;
        if (socket.write(chunk)) continue;
        const drained = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), 1000);
          socket.once("drain", () => (clearTimeout(timer), resolve(true)));
        });
        if (!drained) break;
      }
      const grew = processFootprint(timed.proc.pid).rssMiB - rssBefore;
      assert.ok(sent < total / 2, `the router took ${Math.round(sent / 1048576)} MiB of a request held behind a response`);
      assert.ok(grew < 32, `the router's memory grew by ${Math.round(grew)} MiB`);
    } finally {
      socket.destroy();
    }
  });

  test("a TLS client over the connection cap gets the 503, through TLS", async () => {
    // Accepted before their handshakes end: once these three are through theirs, the cap is reached.
    const held = await Promise.all(Array.from({ length: 3 }, () => openTls(capped.url, cert.ca)));
    try {
      const extra = await openTls(capped.url, cert.ca);
      const outcome = await untilClosed(extra, performance.now());
      assert.match(outcome.text, /^HTTP\/1\.1 503 [^]*Retry-After: 1[^]*server\.maxConnections/);
    } finally {
      for (const socket of held) socket.destroy();
    }
  });
});

describe(`runtime.serve with tls (${runtime.name})`, () => {
  test("an unbounded server (no guard) serves HTTPS too", async () => {
    const cert = await makeCertificate();
    const client = trusting(cert.ca);
    const tls = { cert: cert.ca, key: readFileSync(cert.keyFile, "utf8") };
    const server = await runtime.serve({ hostname: "127.0.0.1", port: 0, tls, fetch: (request) => new Response(new URL(request.url).pathname) });
    try {
      const response = await fetch(`https://127.0.0.1:${server.port}/hello`, client.init as RequestInit);
      assert.equal(await response.text(), "/hello");
    } finally {
      await server.stop(true);
      client.close();
    }
  });
});

describe(`HTTPS startup errors (${runtime.name})`, () => {
  let cert: TestCertificate;
  let config: string;

  before(async () => {
    cert = await makeCertificate();
    config = writeConfig(`models:\n  m:\n    cmd: ${demoCmd()}\n`);
  });

  async function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
    const proc = runtime.spawn({ argv: [...routerArgv(), "--config", config, "--listen", "127.0.0.1:0", ...args], output: "pipe" });
    const [stderr, , status] = await Promise.all([new Response(proc.stderr).text(), new Response(proc.stdout).text(), proc.exited]);
    return { code: status.code, stderr };
  }

  test("a missing, unreadable or wrong file is one line naming it, exit 1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "modelswap-tls-bad-"));
    const garbage = join(dir, "garbage.pem");
    writeFileSync(garbage, "not a certificate\n");
    const cases: Array<[string[], RegExp]> = [
      [["--tls-cert-file", join(dir, "missing.pem"), "--tls-key-file", cert.keyFile], /--tls-cert-file: cannot read \S*missing\.pem/],
      [["--tls-cert-file", cert.certFile, "--tls-key-file", join(dir, "missing.key")], /--tls-key-file: cannot read \S*missing\.key/],
      [["--tls-cert-file", dir, "--tls-key-file", cert.keyFile], /--tls-cert-file: cannot read \S*modelswap-tls-bad-/],
      [["--tls-cert-file", garbage, "--tls-key-file", cert.keyFile], /--tls-cert-file: \S*garbage\.pem holds no PEM certificate/],
      [["--tls-cert-file", cert.certFile, "--tls-key-file", cert.certFile], /--tls-key-file: \S*router\.pem holds no PEM private key/],
      [["--tls-cert-file", cert.certFile, "--tls-key-file", cert.otherKeyFile], /--tls-key-file: \S*other\.key is not the private key of the certificate in \S*router\.pem/],
    ];
    for (const [args, expected] of cases) {
      const result = await run(args);
      assert.equal(result.code, 1, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, expected);
      assert.equal(result.stderr.trim().split("\n").length, 1, `one line, no stack trace: ${result.stderr}`);
    }
  });

  test("an encrypted key is refused with what to do", async () => {
    const encrypted = join(mkdtempSync(join(tmpdir(), "modelswap-tls-enc-")), "encrypted.key");
    await openssl(["pkey", "-in", cert.keyFile, "-aes256", "-passout", "pass:secret", "-out", encrypted]);
    const result = await run(["--tls-cert-file", cert.certFile, "--tls-key-file", encrypted]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /--tls-key-file: \S*encrypted\.key is encrypted; give an unencrypted key \(openssl pkey/);
  });

  test("one TLS flag without the other is a usage error, exit 2", async () => {
    const result = await run(["--tls-cert-file", cert.certFile]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--tls-cert-file needs --tls-key-file too/);
  });
});

describe("HTTPS from the compiled binary", () => {
  let cert: TestCertificate;
  let router: HttpsRouter;
  let client: ReturnType<typeof trusting>;

  before(async () => {
    await ensureDist();
    cert = await makeCertificate();
    client = trusting(cert.ca);
    router = await startHttpsRouter(`models:\n  m:\n    cmd: ${demoCmd()}\n`, cert, [EXECUTABLE]);
  });
  after(async () => {
    await router?.stop();
    client?.close();
  });

  test("dist/modelswap answers a chat over HTTPS", async () => {
    const response = await fetch(`${router.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chat("m")),
      ...client.init,
    } as RequestInit);
    assert.equal(response.status, 200);
    assert.match((await response.json()).choices[0].message.content, /Hello from the modelswap demo upstream/);
  });
});
