/**
 * The demo's `/slots` API with llama-server's prompt-cache save and restore:
 * `GET /slots` lists the slots (used ones with their task and prompt size),
 * `POST /slots/N?action=save|restore` writes or reads slot N's cache to a
 * file in `--slot-save-path` (refused without it, as llama-server does),
 * `action=erase` empties it. `--stall-slots-ms` slows every save and restore;
 * `--no-slots` removes the endpoint.
 */
import type { Context, Hono } from "hono";
import type { Demo } from "./context.ts";
import { errorResponse, readJson } from "./http.ts";

/** Resolve after `ms`. */
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `GET /slots`: every slot; a used one also has `id_task` and `n_prompt_tokens`. */
function listSlots(demo: Demo, c: Context): Response {
  if (demo.options.noSlots) return errorResponse(501, "This server does not support slots endpoint.", "not_supported_error");
  return c.json(demo.slots.map((tokens, id) => ({
    id,
    n_ctx: 2048,
    is_processing: false,
    model: demo.options.model,
    ...(tokens.length > 0 ? { id_task: id + 1, n_prompt_tokens: tokens.length } : {}),
  })));
}

/** `POST /slots/:id?action=…`: save, restore or erase one slot's prompt cache. */
async function slotAction(demo: Demo, c: Context): Promise<Response> {
  const { noSlots, slotSavePath, stallSlotsMs } = demo.options;
  if (noSlots) return errorResponse(501, "This server does not support slots endpoint.", "not_supported_error");
  const id = Number(c.req.param("id"));
  if (!Number.isInteger(id) || id < 0 || id >= demo.slots.length) return errorResponse(400, "Invalid slot ID");
  const action = c.req.query("action");
  if (action === "erase") {
    const n = demo.slots[id].length;
    demo.slots[id] = [];
    return c.json({ id_slot: id, n_erased: n });
  }
  if (action !== "save" && action !== "restore") return errorResponse(400, "Invalid action");
  if (slotSavePath === null) {
    return errorResponse(501, "This server does not support slots action. Start it with `--slot-save-path`", "not_supported_error");
  }
  const body = await readJson(c.req.raw);
  if (body instanceof Response) return body;
  const filename = typeof body.filename === "string" ? body.filename : "";
  if (!/^[\w.-]+$/.test(filename) || filename.includes("..")) return errorResponse(400, "Invalid filename");
  const started = Date.now();
  if (stallSlotsMs > 0) await pause(stallSlotsMs);
  const path = `${slotSavePath}/${filename}`;
  if (action === "save") {
    const text = JSON.stringify({ tokens: demo.slots[id] });
    await demo.runtime.writeTextFile(path, text);
    return c.json({ id_slot: id, filename, n_saved: demo.slots[id].length, n_written: text.length, timings: { save_ms: Date.now() - started } });
  }
  let saved: { tokens: string[] };
  try {
    saved = JSON.parse(await demo.runtime.readTextFile(path));
  } catch {
    return errorResponse(400, "Unable to restore slot: No available space in KV cache or invalid slot save file");
  }
  demo.slots[id] = saved.tokens;
  return c.json({ id_slot: id, filename, n_restored: saved.tokens.length, n_read: JSON.stringify(saved).length, timings: { restore_ms: Date.now() - started } });
}

/** Add `/slots` and `/slots/:id` to `app`. */
export function slotRoutes(app: Hono, demo: Demo): void {
  app.get("/slots", (c) => listSlots(demo, c));
  app.post("/slots/:id", (c) => slotAction(demo, c));
}
