/**
 * The dashboard ships inside the binary as src/http/ui/bundle.gen.ts: it
 * must match its sources (run `npm run build:ui` after editing them), and
 * the router serves it at /ui with cacheable, versioned assets.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, describe, test } from "node:test";
import * as esbuild from "esbuild";
import { UI_CSS, UI_HASH, UI_HTML, UI_JS } from "../../src/http/ui/bundle.gen.ts";
import { uiRoutes } from "../../src/http/ui/routes.ts";
import { buildUiModule, UI_BUNDLE_PATH } from "../../scripts/build-ui.ts";

describe("embedded dashboard", () => {
  after(() => esbuild.stop());

  test("bundle.gen.ts is up to date with the UI sources (else run `npm run build:ui`)", async () => {
    const fresh = await buildUiModule();
    assert.ok(fresh === readFileSync(UI_BUNDLE_PATH, "utf8"), "src/http/ui/bundle.gen.ts is stale: run `npm run build:ui` and commit it");
  });

  test("/ui and /ui/ serve the page, which loads the versioned script and styles", async () => {
    const app = uiRoutes();
    for (const path of ["/ui", "/ui/"]) {
      const response = await app.request(path);
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
      assert.equal(response.headers.get("cache-control"), "no-cache");
      assert.equal(await response.text(), UI_HTML);
    }
    assert.ok(UI_HTML.includes(`/ui/app.js?v=${UI_HASH}`) && UI_HTML.includes(`/ui/app.css?v=${UI_HASH}`));
    const script = await app.request(`/ui/app.js?v=${UI_HASH}`);
    assert.match(script.headers.get("content-type") ?? "", /^text\/javascript/);
    assert.match(script.headers.get("cache-control") ?? "", /immutable/);
    assert.equal(await script.text(), UI_JS);
    const styles = await app.request("/ui/app.css");
    assert.match(styles.headers.get("content-type") ?? "", /^text\/css/);
    assert.equal(await styles.text(), UI_CSS);
  });

  test("a browser that has the assets gets 304", async () => {
    const app = uiRoutes();
    const etag = (await app.request("/ui/app.js")).headers.get("etag")!;
    const again = await app.request("/ui/app.js", { headers: { "if-none-match": etag } });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), "");
  });
});
