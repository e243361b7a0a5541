/// <reference lib="dom" />
/**
 * The dashboard's browser tests share this: Debian's chromium driven by
 * playwright-core (skipped locally without it, a failure in CI), a page
 * that records every script error and any request to another host (the
 * dashboard must work offline), helpers to call the router's API with
 * the test's key, and screenshots of a page at desktop and phone width in
 * both themes (tests/artifacts/, for a human to look at; the phone-width
 * ones also assert that nothing scrolls sideways).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { runtime } from "../e2e/harness.ts";
import { testsPath } from "../helpers/process.ts";

const CHROMIUM = "/usr/bin/chromium";

/** Skip locally without chromium; in CI its absence is a failure (.ci/run installs it). */
export function chromiumMissing(): string | false {
  if (existsSync(CHROMIUM)) return false;
  const hint = `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium), as .ci/run does`;
  if (runtime.env("CI")) throw new Error(hint);
  return hint;
}

/** A browser with one page. */
export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Script errors, console errors and requests to other hosts seen so far. */
  errors: string[];
  close(): Promise<void>;
}

/** Launch chromium (a fresh profile) with one page at desktop size; `apiKey` is answered to the Basic prompt. */
export async function openBrowser(apiKey?: string): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "modelswap-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
    ...(apiKey ? { httpCredentials: { username: "modelswap", password: apiKey } } : {}),
  });
  const page = context.pages()[0] ?? await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  // The dashboard works offline: nothing it loads or calls may come from another host.
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (/^https?:$/.test(url.protocol) && url.hostname !== "127.0.0.1") errors.push(`request to another host: ${request.url()}`);
  });
  return {
    context,
    page,
    errors,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Headers carrying the API key, for the test's own API calls. */
export function keyed(apiKey?: string): Record<string, string> {
  return apiKey ? { authorization: `Bearer ${apiKey}` } : {};
}

/** GET and parse JSON, failing on a non-2xx answer. */
export async function api<T>(url: string, apiKey?: string): Promise<T> {
  const response = await fetch(url, { headers: keyed(apiKey) });
  const text = await response.text();
  assert.ok(response.ok, `${url}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

/** The pid of a model from /api/status. */
export async function pidOf(url: string, model: string, apiKey?: string): Promise<number | null> {
  const status = await api<{ models: { model: string; pid: number | null }[] }>(`${url}/api/status`, apiKey);
  return status.models.find((m) => m.model === model)?.pid ?? null;
}

/**
 * Screenshots of what the page shows now, at 1280 px and 390 px, light and
 * dark (the system's setting, which the dashboard follows by default):
 * `tests/artifacts/ui-<name>-<width>-<theme>.png`. At 390 px nothing may be
 * wider than the screen. `ready` is awaited after each change (e.g. a chart redrawn).
 */
export async function screenshots(page: Page, name: string, ready?: () => Promise<unknown>): Promise<void> {
  const artifacts = testsPath("artifacts");
  mkdirSync(artifacts, { recursive: true });
  const size = page.viewportSize() ?? { width: 1280, height: 900 };
  try {
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
      for (const colorScheme of ["light", "dark"] as const) {
        await page.emulateMedia({ colorScheme });
        await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
        await ready?.();
        if (width === 390) {
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
          assert.equal(overflow, 0, `${name}: nothing scrolls sideways at 390 px`);
        }
        await page.screenshot({ path: join(artifacts, `ui-${name}-${width}-${colorScheme}.png`), fullPage: true });
      }
    }
  } finally {
    await page.emulateMedia({ colorScheme: null });
    await page.setViewportSize(size);
  }
}
