/**
 * Peers end to end (reference §5.1): one modelswap instance reaching the
 * models of another, and of a plain server (the demo upstream's `/echo`,
 * which answers with the request as it arrived, headers included).
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { chat, demoCmd, postJson, type RouterProcess, runtime, startRouter } from "../e2e/harness.ts";
import { type Demo, freePort, startDemo } from "../helpers/process.ts";
import { sseMessages } from "./sse.ts";

const PEER_KEY = "secret-of-b";

interface Echo {
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
}

describe(`peers (${runtime.name})`, () => {
  let remote: RouterProcess;
  let local: RouterProcess;
  let echo: Demo;
  // Accepts connections and never answers: a peer that hangs.
  const silent = createServer(() => {});

  before(async () => {
    echo = await startDemo();
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    remote = await startRouter(`
apiKeys: [${PEER_KEY}]
models:
  beta: { cmd: "${demoCmd("--token-ms 1 --reply 'remote beta'")}" }
  shared: { cmd: "${demoCmd("--token-ms 1 --reply 'remote shared'")}" }
`);
    local = await startRouter(`
cors: { origins: [http://ui.example] }
models:
  alpha: { cmd: "${demoCmd("--token-ms 1 --reply 'local alpha'")}" }
  shared: { cmd: "${demoCmd("--token-ms 1 --reply 'local shared'")}" }
peers:
  b:
    proxy: ${remote.url}
    apiKey: ${PEER_KEY}
    models: [beta, shared]
  nokey:
    proxy: ${remote.url}
    models: [shared]
  echo:
    proxy: ${echo.url}/echo
    apiKey: echo-key
    models: [m1, org/model-x]
    filters:
      stripParams: secret
      setParams: { temperature: 0.1 }
      setParamsByID:
        echo/m1: { top_k: 5 }
  down:
    proxy: http://127.0.0.1:${await freePort()}
    models: [gone]
  silent:
    proxy: http://127.0.0.1:${(silent.address() as AddressInfo).port}
    models: [quiet]
    timeouts: { responseHeader: 1 }
`);
  });

  after(async () => {
    const exits = [await local?.stop(), await remote?.stop()];
    await echo?.kill();
    silent.closeAllConnections();
    silent.close();
    for (const exit of exits) assert.equal(exit?.code, 0);
  });

  const ask = (model: string, init: RequestInit = {}, extra: Record<string, unknown> = {}) =>
    postJson(`${local.url}/v1/chat/completions`, chat(model, extra), init);
  const answer = async (model: string) => {
    const response = await ask(model);
    assert.equal(response.status, 200, `request for ${model}`);
    const body = await response.json();
    return { model: body.model as string, text: body.choices[0].message.content as string };
  };
  const echoed = async (response: Response): Promise<Echo> => {
    assert.equal(response.status, 200);
    return await response.json();
  };

  test("a peer model is reached by <peer>/<model> and receives its own model id", async () => {
    assert.deepEqual(await answer("b/beta"), { model: "beta", text: "remote beta" });
  });

  test("a bare name reaches the one peer that lists it; local models win over peers", async () => {
    assert.deepEqual(await answer("beta"), { model: "beta", text: "remote beta" });
    assert.deepEqual(await answer("shared"), { model: "shared", text: "local shared" });
    assert.deepEqual(await answer("b/shared"), { model: "shared", text: "remote shared" });
  });

  test("streams, Anthropic messages and llama-server query routes pass through a peer", async () => {
    const streamed = await ask("b/beta", {}, { stream: true });
    assert.equal(streamed.status, 200);
    assert.equal(streamed.headers.get("x-accel-buffering"), "no");
    const messages = await sseMessages(streamed);
    assert.equal(messages.at(-1)?.data, "[DONE]");
    const text = messages.slice(0, -1).map((m) => JSON.parse(m.data).choices[0]?.delta?.content ?? "").join("");
    assert.equal(text, "remote beta");

    const message = await postJson(`${local.url}/v1/messages`, { model: "b/beta", max_tokens: 20, messages: [{ role: "user", content: "hi" }] });
    assert.equal(message.status, 200);
    assert.deepEqual(((await message.json()).content), [{ type: "text", text: "remote beta" }]);

    const props = await fetch(`${local.url}/props?model=b/beta`);
    assert.equal(props.status, 200);
    assert.equal((await props.json()).model, "demo");
  });

  test("the peer's apiKey is sent, the client's own credentials never are", async () => {
    // The remote instance requires PEER_KEY; the client presented nothing, so it came from the peer config.
    assert.equal((await ask("b/beta")).status, 200);
    // A peer without apiKey: the client's key (valid on the remote!) is not passed on.
    const refused = await ask("nokey/shared", { headers: { authorization: `Bearer ${PEER_KEY}`, "x-api-key": PEER_KEY } });
    assert.equal(refused.status, 401, "the remote saw no key");
    await refused.body?.cancel();

    const seen = await echoed(
      await ask("echo/m1", { headers: { authorization: "Bearer client-key", "x-api-key": "client-key", cookie: "session=1" } }),
    );
    assert.equal(seen.path, "/echo/v1/chat/completions");
    assert.equal(seen.headers.authorization, "Bearer echo-key");
    assert.equal(seen.headers["x-api-key"], "echo-key");
    assert.equal(seen.headers.cookie, undefined);
    assert.equal(seen.headers.host, new URL(echo.url).host);
  });

  test("peer filters apply, setParamsByID by the name the client asked for", async () => {
    const seen = await echoed(await ask("echo/m1", {}, { secret: "s", temperature: 1 }));
    assert.deepEqual(JSON.parse(seen.body), { model: "m1", messages: [{ role: "user", content: "hi" }], temperature: 0.1, top_k: 5 });
    const other = await echoed(await ask("org/model-x"));
    assert.deepEqual(JSON.parse(other.body), { model: "org/model-x", messages: [{ role: "user", content: "hi" }], temperature: 0.1 });
  });

  test("a multipart upload to a peer carries the peer's model id", async () => {
    const form = new FormData();
    form.append("model", "echo/m1");
    form.append("file", new Blob([new Uint8Array([1, 2, 3])]), "a.wav");
    const seen = await echoed(await fetch(`${local.url}/v1/audio/transcriptions`, { method: "POST", body: form }));
    assert.match(seen.body, /name="model"\r\n\r\nm1\r\n/);
    assert.match(seen.headers["content-type"], /^multipart\/form-data; boundary=/);
  });

  test("an unreachable peer is a 502 that names it", async () => {
    const response = await ask("down/gone");
    assert.equal(response.status, 502);
    assert.match((await response.json()).error.message, /peer "down" at http:\/\/127\.0\.0\.1:\d+ failed for model "down\/gone"/);
  });

  test("/upstream/<peer>/<model>/<path> passes straight through to the peer, with the peer's key", async () => {
    const response = await fetch(`${local.url}/upstream/echo/org/model-x/props?x=1`, { headers: { authorization: "Bearer client-key" } });
    const body = await echoed(response);
    assert.equal(body.path, "/echo/props");
    assert.equal(body.query.x, "1");
    assert.equal(body.headers.authorization, "Bearer echo-key");
  });

  test("a peer that sends nothing is a 504 after its responseHeader timeout", async () => {
    const response = await ask("silent/quiet");
    assert.equal(response.status, 504);
    assert.match((await response.json()).error.message, /peer "silent" .* sent no response within 1s \(peers\.silent\.timeouts\.responseHeader\)/);
  });

  test("/v1/models lists peer models as <peer>/<model>; CORS allows the configured origin only", async () => {
    const listing = await fetch(`${local.url}/v1/models`, { headers: { origin: "http://ui.example" } });
    assert.equal(listing.headers.get("access-control-allow-origin"), "http://ui.example");
    const { data } = await listing.json();
    assert.deepEqual(data.map((r: { id: string }) => r.id), [
      "alpha",
      "b/beta",
      "b/shared",
      "down/gone",
      "echo/m1",
      "echo/org/model-x",
      "nokey/shared",
      "shared",
      "silent/quiet",
    ]);
    const peer = data.find((r: { id: string }) => r.id === "b/beta");
    assert.equal(peer.name, "b: beta");
    assert.deepEqual(peer.meta, { llamaswap: { type: "peer", peerID: "b", modelID: "beta" } });
    const elsewhere = await fetch(`${local.url}/v1/models`, { headers: { origin: "http://evil.example" } });
    assert.equal(elsewhere.headers.get("access-control-allow-origin"), null);
    await elsewhere.body?.cancel();
  });
});
