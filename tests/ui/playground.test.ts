/// <reference lib="dom" />
/**
 * The Playground in a real browser against a real router with demo
 * upstreams: a chat streamed token by token, reasoning shown apart with its
 * time, Markdown, the system prompt/temperature/max tokens and the endpoint
 * as sent (read back from the request's capture), an image attached for a
 * vision model, and the images, speech, transcription, rerank and load test
 * tabs.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { after, before, describe, test } from "node:test";
import { demoCmd, type RouterProcess, startRouter } from "../e2e/harness.ts";
import { api, type Browser, chromiumMissing, openBrowser, screenshots } from "./browser.ts";

const REPLY = "Hello from the modelswap demo upstream, a stand-in for llama-server.";
/** The smallest PNG (1×1, transparent). */
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64");

interface ActivityRow {
  id: number;
  req_path: string;
  has_capture: boolean;
}

describe("dashboard: playground", { skip: chromiumMissing() }, () => {
  let router: RouterProcess;
  let browser: Browser;
  /** The body of the newest request the router recorded, from its capture. */
  const lastRequest = async (): Promise<{ path: string; body: Record<string, unknown> }> => {
    const { data } = await api<{ data: ActivityRow[] }>(`${router.url}/api/metrics/activity?limit=1`);
    assert.ok(data[0]?.has_capture, "the request was captured");
    const capture = await api<{ req_body: string }>(`${router.url}/api/captures/${data[0].id}`);
    return { path: data[0].req_path, body: JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(capture.req_body), (c) => c.charCodeAt(0)))) };
  };
  const send = async (text: string) => {
    await browser.page.fill("#chat-input", text);
    await browser.page.press("#chat-input", "Enter");
    await browser.page.locator(".msg-user", { hasText: text }).waitFor();
    await browser.page.locator("#chat-send", { hasText: "Send" }).waitFor({ timeout: 20_000 });
  };

  before(async () => {
    router = await startRouter(`
captureBuffer: 5
groups:
  all: { swap: false, members: [alpha, thinker] }
models:
  alpha:
    cmd: ${demoCmd("--model alpha --token-ms 40")}
  thinker:
    cmd: ${demoCmd('--model thinker --token-ms 10 --reply "<think>Let me think about it.</think>The answer is **42**."')}
`);
    browser = await openBrowser();
  });

  after(async () => {
    await browser?.close();
    if (router) await router.stop();
  });

  test("chat: the reply streams in token by token, then its speed is shown", async () => {
    const { page } = browser;
    await page.goto(`${router.url}/ui/#/playground/chat`);
    await page.selectOption("#chat-model", "alpha");
    // Record every length the reply goes through, to see it arrive in pieces.
    await page.evaluate(() => {
      const lengths: number[] = [];
      (globalThis as unknown as { replyLengths: number[] }).replyLengths = lengths;
      new MutationObserver(() => {
        const answer = document.querySelector(".msg-assistant:last-of-type .answer");
        if (answer) lengths.push(answer.textContent?.length ?? 0);
      }).observe(document.getElementById("chat-log")!, { subtree: true, childList: true, characterData: true });
    });
    await send("Hello, who are you?");
    const meta = page.locator(".msg-assistant .meta", { hasText: /tok\/s/ });
    await meta.waitFor({ timeout: 20_000 });
    assert.equal(await page.locator(".msg-assistant .answer").innerText(), REPLY);
    const lengths = await page.evaluate(() => (globalThis as unknown as { replyLengths: number[] }).replyLengths);
    assert.ok(new Set(lengths.filter((n) => n > 0)).size >= 5, `the reply should grow in steps, saw lengths ${lengths.join(",")}`);
    assert.match(await meta.innerText(), /^alpha · [\d.]+ s · 10 tokens · [\d.]+ tok\/s$/);
  });

  test("chat: reasoning is shown apart with how long it took, and the answer as Markdown", async () => {
    const { page } = browser;
    await page.click("#chat-clear");
    await page.selectOption("#chat-model", "thinker");
    await send("What is the answer?");
    const reasoning = page.locator(".msg-assistant .reasoning");
    await reasoning.locator("summary", { hasText: /^Thought for \d+ ms|^Thought for [\d.]+ s/ }).waitFor();
    assert.equal(await reasoning.locator(".reasoning-text").textContent(), "Let me think about it.");
    const answer = page.locator(".msg-assistant .answer");
    assert.equal(await answer.innerText(), "The answer is 42.");
    assert.equal(await answer.locator("strong").innerText(), "42", "Markdown is rendered");
    assert.ok(!(await answer.innerText()).includes("think"), "the reasoning is not part of the answer");
  });

  test("chat: the system prompt, temperature and max tokens are sent", async () => {
    const { page } = browser;
    await page.click("#chat-clear");
    await page.selectOption("#chat-model", "alpha");
    await page.click("#chat-settings summary");
    await page.fill("#chat-system", "You are terse.");
    await page.fill("#chat-temperature", "0.2");
    await page.fill("#chat-max-tokens", "3");
    await send("Keep it short");
    await page.locator(".msg-assistant .meta", { hasText: "3 tokens" }).waitFor();
    const { path, body } = await lastRequest();
    assert.equal(path, "/v1/chat/completions");
    assert.deepEqual(body.messages, [{ role: "system", content: "You are terse." }, { role: "user", content: "Keep it short" }]);
    assert.equal(body.temperature, 0.2);
    assert.equal(body.max_tokens, 3);
    assert.equal(body.stream, true);
  });

  test("chat: the /v1/completions endpoint takes a plain prompt", async () => {
    const { page } = browser;
    await page.click("#chat-clear");
    await page.selectOption("#chat-endpoint", "completions");
    await send("Once upon a time");
    await page.locator(".msg-assistant .meta", { hasText: "3 tokens" }).waitFor();
    const { path, body } = await lastRequest();
    assert.equal(path, "/v1/completions");
    assert.equal(body.prompt, "You are terse.\n\nOnce upon a time");
    await page.selectOption("#chat-endpoint", "chat");
    await page.fill("#chat-system", "");
    await page.fill("#chat-max-tokens", "");
    await page.fill("#chat-temperature", "");
  });

  test("chat: an attached image goes with the message as an image part", async () => {
    const { page } = browser;
    await page.click("#chat-clear");
    await page.setInputFiles("#chat-image", { name: "dot.png", mimeType: "image/png", buffer: PNG });
    await page.locator('#chat-attachments img[alt="dot.png"]').waitFor();
    await send("What is in this picture?");
    await page.locator(".msg-user .msg-images img").waitFor();
    const { body } = await lastRequest();
    const [message] = body.messages as { content: { type: string; text?: string; image_url?: { url: string } }[] }[];
    assert.deepEqual(message.content[0], { type: "text", text: "What is in this picture?" });
    assert.equal(message.content[1].type, "image_url");
    assert.match(message.content[1].image_url!.url, /^data:image\/png;base64,iVBORw0KGgo/);
  });

  test("images: the generated pictures are shown", async () => {
    const { page } = browser;
    await page.click('.tabs a[data-tab="images"]');
    await page.selectOption("#images-model", "alpha");
    await page.fill("#images-prompt", "a red fox");
    await page.fill("#images-count", "2");
    await page.click("#images-generate");
    await page.locator("#images-meta", { hasText: /^2 images in / }).waitFor();
    const sources = await page.locator("#images-result img").evaluateAll((images) => images.map((image) => image.getAttribute("src")));
    assert.deepEqual(sources, Array(2).fill(`data:image/png;base64,${btoa("demo image: a red fox")}`));
  });

  test("speech: the audio comes back playable", async () => {
    const { page } = browser;
    await page.click('.tabs a[data-tab="speech"]');
    await page.fill("#speech-text", "hello there");
    await page.click("#speech-speak");
    await page.locator("#speech-meta", { hasText: /^\d+ B of audio\/mpeg in / }).waitFor();
    assert.match(await page.locator("#speech-audio").getAttribute("src") ?? "", /^blob:/);
    const { body } = await lastRequest();
    assert.deepEqual(body, { model: "alpha", input: "hello there", voice: "alloy" });
  });

  test("transcription: an uploaded file comes back as text", async () => {
    const { page } = browser;
    await page.click('.tabs a[data-tab="transcription"]');
    await page.setInputFiles("#transcription-file", { name: "clip.wav", mimeType: "audio/wav", buffer: Buffer.from("RIFF fake audio") });
    await page.click("#transcription-run");
    assert.equal(await page.locator("#transcription-text").innerText(), REPLY);
  });

  test("rerank: the documents come back best first with their scores", async () => {
    const { page } = browser;
    await page.click('.tabs a[data-tab="rerank"]');
    await page.fill("#rerank-query", "red fox");
    await page.fill("#rerank-documents", "the quick brown dog\nred apples are sweet\na red fox");
    await page.click("#rerank-run");
    const items = page.locator("#rerank-results li");
    await items.first().waitFor();
    assert.deepEqual(await items.locator(".rank-text").allInnerTexts(), ["a red fox", "red apples are sweet", "the quick brown dog"]);
    assert.match(await items.first().locator(".rank-score").innerText(), /^0\.667$/);
  });

  test("load test: N requests at once, each timed, then the totals", async () => {
    const { page } = browser;
    await page.click('.tabs a[data-tab="load"]');
    await page.fill("#load-count", "6");
    await page.fill("#load-max-tokens", "5");
    await page.click("#load-start");
    await page.locator('#load-summary [data-total="done"]', { hasText: "6/6" }).waitFor({ timeout: 20_000 });
    assert.equal(await page.locator('#load-summary [data-total="failed"]').innerText(), "0");
    assert.equal(await page.locator('#load-summary [data-total="tokens"]').innerText(), "30");
    await page.locator('#load-summary [data-total="throughput"]', { hasText: /^[\d.]+ tok\/s$/ }).waitFor();
    assert.equal(await page.locator('#load-runs tbody tr[data-state="done"]').count(), 6);
  });

  test("looks right at desktop and phone width, light and dark (tests/artifacts/)", async () => {
    const { page } = browser;
    await page.click('.tabs a[data-tab="chat"]');
    await page.selectOption("#chat-model", "thinker");
    await send("Once more, what is the answer?");
    await screenshots(page, "playground");
    assert.deepEqual(browser.errors, [], "no errors in the page");
  });
});
