/**
 * The config editor's routes, behind `apiKeys` like every admin route:
 *
 * - `GET /api/config`: the `-config` file's text and version (ETag), whether
 *   it may be edited here and why not, and the other files of `-config-dir`
 *   (shown, never edited).
 * - `GET /api/config/effective`: the running config after macros, secrets masked.
 * - `POST /api/config/check`: YAML text in, every issue of the whole config
 *   that file would make (the real loader and schema) with its key path and
 *   line/column, the warnings, and what a reload would do (see config-plan.ts).
 * - `PUT /api/config` with `If-Match: <ETag>`: the same check, then the file
 *   is replaced atomically (previous version kept as `<file>.bak`) and
 *   reloaded exactly as SIGHUP reloads it. Refused when `ui.configEditor` is
 *   not true, when the file changed since that version (409), and for
 *   requests from another web origin (a page elsewhere must not rewrite the
 *   commands modelswap runs); with no `apiKeys`, only clients on this machine
 *   may apply.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Context } from "hono";
import { ConfigError } from "../config/issue.ts";
import type { ConfigSource } from "../config/load.ts";
import { type ConfigFiles, type ConfigPaths, readConfigSources } from "../config/sources.ts";
import { ModelswapError } from "../errors.ts";
import type { SpecChanges } from "../processes.ts";
import type { ServeInfo } from "../runtime/runtime.ts";
import { parseSetupSources } from "../setup.ts";
import { ConfigFile, type ConfigFileAccess, MAX_CONFIG_BYTES } from "./config-file.ts";
import { type LocatedIssue, locateIssues, warningIssue } from "./config-locate.ts";
import { maskedConfig } from "./config-mask.ts";
import { type ReloadPlan, reloadPlan } from "./config-plan.ts";
import type { AppContext } from "./context.ts";

/** What a reload did: the models it changed, or why it applied nothing. */
export type ReloadOutcome = { applied: true; changes: SpecChanges } | { applied: false; reason: string };

/** What the editor needs from the running server. */
export interface ConfigEditorDeps {
  /** `-config` and `-config-dir` as given on the command line. */
  paths: ConfigPaths;
  files: ConfigFiles & ConfigFileAccess;
  /** For `${env.X}` and `${SELF}`, as the loader gets them at startup. */
  env: Record<string, string>;
  selfArgv: string[];
  /** The SIGHUP reload: reads the files again and reconfigures the router. */
  reload(): Promise<ReloadOutcome>;
}

/** What the app gets besides its usual context: the editor's dependencies, when the server was started from files. */
export interface ConfigEditorContext {
  configEditor?: ConfigEditorDeps;
}

/** The result of checking a candidate text. */
export interface ConfigCheck {
  ok: boolean;
  issues: LocatedIssue[];
  warnings: LocatedIssue[];
  /** What applying it would do (null when it has issues). */
  plan: ReloadPlan | null;
}

/** `GET /api/config`. */
export interface ConfigView {
  /** The `-config` file, or null when only `-config-dir` was given. */
  file: string | null;
  text: string;
  etag: string | null;
  editable: boolean;
  /** Why it cannot be edited here, or null. */
  readOnly: string | null;
  /** Where `PUT` keeps the previous version. */
  backup: string | null;
  /** The files of `-config-dir`, merged after it. */
  others: ConfigSource[];
}

/** The `/api/config` routes. */
export function configEditorRoutes(ctx: AppContext & ConfigEditorContext): Hono {
  const app = new Hono();
  const deps = ctx.configEditor;
  const file = deps?.paths.file ? new ConfigFile(deps.paths.file, deps.files) : null;
  const config = () => ctx.router().config;
  let applying: Promise<unknown> = Promise.resolve();

  const bounded = bodyLimit({
    maxSize: MAX_CONFIG_BYTES,
    onError: () => {
      throw new ModelswapError(413, "config_too_large", `a config text is at most ${MAX_CONFIG_BYTES} bytes`);
    },
  });
  const need = (): { deps: ConfigEditorDeps; file: ConfigFile } => {
    if (!deps) throw new ModelswapError(503, "config_unavailable", "this modelswap was not started from a config file, so there is none to show");
    if (!file) {
      throw new ModelswapError(409, "config_editor_unavailable", "modelswap was started with --config-dir only; edit those files directly (only a --config file can be edited here)");
    }
    return { deps, file };
  };
  const readOnlyReason = (): string | null => {
    if (!deps) return "this modelswap was not started from a config file";
    if (!file) return "started with --config-dir only: edit those files directly (only a --config file can be edited here)";
    if (!config().ui.configEditor) return "read-only: set `ui: {configEditor: true}` in the config to edit it here";
    return null;
  };
  const check = async (text: string): Promise<ConfigCheck> => {
    const { deps } = need();
    const sources = await readConfigSources(deps.paths, deps.files);
    sources[0] = { name: deps.paths.file!, text };
    const names = sources.map((source) => source.name);
    const locate = (found: { path: string; message: string }[]) => locateIssues(found, text, deps.paths.file!, names);
    try {
      const setup = parseSetupSources(sources, { env: deps.env, selfArgv: deps.selfArgv });
      const active = new Set(ctx.router().status().filter((s) => s.state !== "stopped" && s.state !== "failed").map((s) => s.model));
      return { ok: true, issues: [], warnings: locate(setup.warnings.map(warningIssue)), plan: reloadPlan(config(), setup.config, active) };
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return { ok: false, issues: locate(error.issues), warnings: [], plan: null };
    }
  };

  app.get("/api/config", async (c) => {
    const reason = readOnlyReason();
    if (!deps) throw new ModelswapError(503, "config_unavailable", reason!);
    const sources = await readConfigSources(deps.paths, deps.files);
    const current = file ? await file.read() : null;
    const view: ConfigView = {
      file: file?.path ?? null,
      text: current?.text ?? "",
      etag: current?.etag ?? null,
      editable: reason === null,
      readOnly: reason,
      backup: file?.backupPath ?? null,
      others: file ? sources.slice(1) : sources,
    };
    if (current) c.header("etag", current.etag);
    return c.json(view);
  });

  app.get("/api/config/effective", (c) => c.json(maskedConfig(config(), ctx.logs.redactor.apply)));

  app.post("/api/config/check", bounded, async (c) => c.json(await check(await c.req.text())));

  app.put("/api/config", bounded, async (c) => {
    const reason = readOnlyReason();
    if (reason !== null) throw new ModelswapError(deps && file ? 403 : 409, "config_editor_disabled", reason);
    refuseForeign(c, config().apiKeys.length > 0);
    const expected = c.req.header("if-match");
    if (!expected) {
      throw new ModelswapError(428, "if_match_required", "send If-Match with the ETag of the version you edited (from GET /api/config), so a change made meanwhile is not overwritten");
    }
    const text = await c.req.text();
    const run = applying.then(() => apply(text, normaliseTag(expected)));
    applying = run.catch(() => {});
    return c.json(await run);
  });

  /** Check, replace, reload; a reload that fails puts the previous file back. */
  async function apply(text: string, expected: string) {
    const { deps, file } = need();
    const result = await check(text);
    if (!result.ok) {
      const first = result.issues[0];
      const where = first.line === null ? first.path : `line ${first.line} (${first.path})`;
      throw new ModelswapError(422, "config_invalid", `the config was not applied: ${result.issues.length} issue(s), first at ${where}: ${first.message}`, {
        issues: result.issues,
      });
    }
    const previous = await file.replace(text, expected);
    const outcome = await deps.reload();
    if (!outcome.applied) {
      await file.restore(previous.text);
      throw new ModelswapError(500, "config_reload_failed", `the reload refused the new file, so the previous version was put back: ${outcome.reason}`);
    }
    const { etag } = await file.read();
    return { applied: true, etag, backup: file.backupPath, changes: outcome.changes, plan: result.plan, warnings: result.warnings };
  }

  return app;
}

/** `W/"abc"` or `abc` → `"abc"`. */
function normaliseTag(tag: string): string {
  const bare = tag.trim().replace(/^W\//, "").replace(/^"|"$/g, "");
  return `"${bare}"`;
}

/**
 * Refuses a write from a page of another origin (browsers say where a
 * request comes from: `Sec-Fetch-Site`, or at least `Origin`), and, when no
 * API key protects the router, from another machine: whoever may write the
 * config may run any command.
 */
function refuseForeign(c: Context, keyed: boolean): void {
  const site = c.req.header("sec-fetch-site");
  const origin = c.req.header("origin");
  const foreign = site !== undefined ? site !== "same-origin" && site !== "none" : origin !== undefined && hostOf(origin) !== c.req.header("host");
  if (foreign) {
    throw new ModelswapError(403, "cross_origin", `the config can only be changed from modelswap's own dashboard, not from a page at ${(origin ?? "another site").slice(0, 200)}`);
  }
  const remote = (c.env as ServeInfo | undefined)?.remoteAddress ?? "";
  if (!keyed && !isLoopback(remote)) {
    throw new ModelswapError(403, "config_editor_local_only", "with no apiKeys set, the config can only be changed from this machine; set apiKeys to edit it from elsewhere");
  }
}

function hostOf(origin: string): string | null {
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
}

function isLoopback(address: string): boolean {
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}
