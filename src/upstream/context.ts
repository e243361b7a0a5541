/**
 * Swaps that keep the conversation: before a planned stop, every slot of a
 * llama-server that holds tokens is saved to disk through its own API
 * (`POST /slots/N?action=save`); after the next start passes its health
 * check, the saves are restored (`action=restore`), so a long prompt is not
 * evaluated again. One save per model (its last planned stop), kept within a
 * byte budget by deleting the least recently used saves whole. A save is
 * tied to a key (a hash of the model's command), so a changed command never
 * restores a foreign cache. Nothing here ever throws or waits past its
 * timeout: a server that cannot save or restore swaps as if it had nothing.
 */
import type { Runtime } from "../runtime/runtime.ts";

/** Where a model's saves live and which command they belong to. */
export interface ContextSpec {
  /** The directory llama-server writes slot files to (its `--slot-save-path`). */
  dir: string;
  /** Hash of the model's command: saves under another key are never restored. */
  key: string;
}

/** What a save kept. */
export interface SaveReport {
  slots: number;
  tokens: number;
  bytes: number;
  ms: number;
}

/** What a restore brought back. */
export interface RestoreReport {
  slots: number;
  tokens: number;
  ms: number;
}

/** A model's save as the status views show it. */
export interface SavedContext {
  tokens: number;
  bytes: number;
  /** When it was saved (ms epoch). */
  savedAt: number;
}

/** Budget and bounds (from the config's `contextCache`). */
export interface ContextCacheOptions {
  maxBytes: number;
  timeoutMs: number;
  warn(message: string): void;
  now?(): number;
}

/** The manifest of one model's save, written after every slot was saved. */
interface Save {
  key: string;
  /** Where its files are (the `--slot-save-path` of the process that saved it). */
  dir: string;
  savedAt: number;
  /** Last save or restore: the least recently used saves are deleted first. */
  usedAt: number;
  slots: Array<{ slot: number; file: string; tokens: number; bytes: number }>;
}

/** The manifest's file name in a model's directory. */
const MANIFEST = "modelswap-context.json";

/** llama-server's answer to a slot action; only the counts are read. */
interface SlotAnswer {
  n_saved?: number;
  n_written?: number;
  n_restored?: number;
}

/** The saves of every model that keeps its context, within one byte budget. */
export class ContextStore {
  readonly #runtime: Runtime;
  readonly #options: ContextCacheOptions;
  readonly #saves = new Map<string, { spec: ContextSpec; save: Save | null }>();
  /** Models whose last save or restore failed: warned once until one succeeds. */
  readonly #warned = new Set<string>();

  constructor(runtime: Runtime, options: ContextCacheOptions) {
    this.#runtime = runtime;
    this.#options = options;
  }

  /**
   * Keep `model`'s context in `spec.dir` (its current command's key is
   * `spec.key`); a save left by an earlier run is picked up.
   */
  async track(model: string, spec: ContextSpec): Promise<void> {
    await this.#runtime.mkdir(spec.dir);
    let save: Save | null = null;
    try {
      save = JSON.parse(await this.#runtime.readTextFile(`${spec.dir}/${MANIFEST}`)) as Save;
    } catch {
      // No save yet (or an unreadable one, replaced by the next save).
    }
    this.#saves.set(model, { spec, save });
  }

  /** The model's current save, if any (and if it belongs to its current command). */
  saved(model: string): SavedContext | null {
    const entry = this.#saves.get(model);
    const save = entry?.save;
    if (!entry || !save || save.key !== entry.spec.key) return null;
    return { tokens: sum(save.slots, "tokens"), bytes: sum(save.slots, "bytes"), savedAt: save.savedAt };
  }

  /**
   * Save every slot of the server at `baseUrl` (run with `spec`: its key
   * marks the save) that holds tokens, replacing the model's previous save;
   * null when there was nothing to save or it failed (warned once) or took
   * longer than the timeout.
   */
  async save(model: string, spec: ContextSpec, baseUrl: string): Promise<SaveReport | null> {
    const entry = this.#saves.get(model);
    if (!entry) return null;
    const started = this.#now();
    const signal = AbortSignal.timeout(this.#options.timeoutMs);
    try {
      const used = await usedSlots(baseUrl, signal);
      const slots: Save["slots"] = [];
      for (const slot of used) {
        const file = `slot${slot}-${spec.key}.bin`;
        const answer = await slotAction(baseUrl, slot, "save", file, signal);
        if ((answer.n_saved ?? 0) > 0) slots.push({ slot, file, tokens: answer.n_saved ?? 0, bytes: answer.n_written ?? 0 });
      }
      await this.#replace(model, slots.length ? { key: spec.key, dir: spec.dir, savedAt: started, usedAt: started, slots } : null);
      this.#warned.delete(model);
      if (slots.length === 0) return null;
      await this.#keepWithinBudget(model);
      return { slots: slots.length, tokens: sum(slots, "tokens"), bytes: sum(slots, "bytes"), ms: this.#now() - started };
    } catch (error) {
      this.#warnOnce(model, `could not save its context before stopping (${reason(error, signal, this.#options.timeoutMs)}); it will start without it`);
      return null;
    }
  }

  /**
   * Restore the model's save into the freshly started server at `baseUrl`
   * (run with `spec`); null when there is none, it was saved under another
   * command (it is deleted then), or it failed.
   */
  async restore(model: string, spec: ContextSpec, baseUrl: string): Promise<RestoreReport | null> {
    const entry = this.#saves.get(model);
    const save = entry?.save;
    if (!entry || !save) return null;
    if (save.key !== spec.key) {
      await this.#replace(model, null); // saved under another command: never restored
      return null;
    }
    const started = this.#now();
    const signal = AbortSignal.timeout(this.#options.timeoutMs);
    try {
      let tokens = 0;
      for (const { slot, file } of save.slots) tokens += (await slotAction(baseUrl, slot, "restore", file, signal)).n_restored ?? 0;
      save.usedAt = started;
      await this.#writeManifest(save);
      this.#warned.delete(model);
      return { slots: save.slots.length, tokens, ms: this.#now() - started };
    } catch (error) {
      this.#warnOnce(model, `could not restore its saved context (${reason(error, signal, this.#options.timeoutMs)}); it starts without it`);
      return null;
    }
  }

  /** Delete the model's save (`POST /api/models/forget-context/<model>`). */
  async forget(model: string): Promise<void> {
    if (this.#saves.has(model)) await this.#replace(model, null);
  }

  /** Delete the least recently used saves until the total fits `maxBytes` (the newest save too, if it alone does not). */
  async #keepWithinBudget(newest: string): Promise<void> {
    const bytes = () => [...this.#saves.values()].reduce((total, { save }) => total + (save ? sum(save.slots, "bytes") : 0), 0);
    while (bytes() > this.#options.maxBytes) {
      const [oldest] = [...this.#saves].filter(([, { save }]) => save).sort(([a, x], [b, y]) =>
        (a === newest ? 1 : 0) - (b === newest ? 1 : 0) || x.save!.usedAt - y.save!.usedAt
      )[0];
      this.#options.warn(`${oldest}: its saved context was deleted to stay within contextCache.maxBytes (${this.#options.maxBytes} bytes)`);
      await this.#replace(oldest, null);
    }
  }

  /** Put `save` in place of the model's current one, deleting the files the old one had and the new one does not. */
  async #replace(model: string, save: Save | null): Promise<void> {
    const entry = this.#saves.get(model)!;
    const old = entry.save;
    const kept = new Set(save?.slots.map((s) => `${save.dir}/${s.file}`) ?? []);
    for (const { file } of old?.slots ?? []) {
      if (!kept.has(`${old!.dir}/${file}`)) await this.#runtime.remove(`${old!.dir}/${file}`).catch(() => {});
    }
    entry.save = save;
    if (old && old.dir !== save?.dir) await this.#runtime.remove(`${old.dir}/${MANIFEST}`).catch(() => {});
    if (save) await this.#writeManifest(save);
  }

  async #writeManifest(save: Save): Promise<void> {
    const path = `${save.dir}/${MANIFEST}`;
    await this.#runtime.writeTextFile(`${path}.tmp`, JSON.stringify(save));
    await this.#runtime.rename(`${path}.tmp`, path);
  }

  #warnOnce(model: string, message: string): void {
    if (this.#warned.has(model)) return;
    this.#warned.add(model);
    this.#options.warn(`${model}: keepContext: ${message}`);
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now();
  }
}

function sum<K extends "tokens" | "bytes">(slots: Array<Record<K, number>>, key: K): number {
  return slots.reduce((total, slot) => total + slot[key], 0);
}

/** Why an operation failed, in words. */
function reason(error: unknown, signal: AbortSignal, timeoutMs: number): string {
  if (signal.aborted) return `it took longer than ${timeoutMs / 1000}s (contextCache.timeout)`;
  return error instanceof Error ? error.message : String(error);
}

/** The ids of the slots that hold a prompt (llama-server lists a used slot with its task and prompt size). */
async function usedSlots(baseUrl: string, signal: AbortSignal): Promise<number[]> {
  const response = await fetch(`${baseUrl}/slots`, { signal });
  if (!response.ok) throw new Error(`GET /slots answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
  const slots = await response.json() as Array<{ id?: unknown; id_task?: unknown; n_prompt_tokens?: unknown }>;
  if (!Array.isArray(slots)) throw new Error("GET /slots did not answer a list");
  return slots
    .filter((slot) => Number.isInteger(slot.id) && (slot.id_task !== undefined || Number(slot.n_prompt_tokens) > 0))
    .map((slot) => slot.id as number);
}

/** `POST /slots/N?action=save|restore` with our own file name; throws with the server's message on failure. */
async function slotAction(baseUrl: string, slot: number, action: "save" | "restore", file: string, signal: AbortSignal): Promise<SlotAnswer> {
  const response = await fetch(`${baseUrl}/slots/${slot}?action=${action}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ filename: file }),
    signal,
  });
  if (!response.ok) throw new Error(`${action} of slot ${slot} answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
  return await response.json() as SlotAnswer;
}
