/**
 * The dashboard's view of the server: the shapes `/api/events` sends (the
 * server's own types, so they cannot drift) and the admin actions.
 */
import type { ActivityRecord } from "../../observability/activity.ts";
import type { ModelView, Snapshot } from "../../observability/observer.ts";

export type { ActivityRecord, ModelView, Snapshot };

/** A swap as `/api/events` reports it. */
export interface SwapEvent {
  phase: "started" | "finished";
  target: string;
  evict: string[];
  reason: string;
  durationMs?: number;
  error?: string | null;
}

/** A path segment for a model id (ids may contain `/`). */
export function modelPath(id: string): string {
  return id.split("/").map(encodeURIComponent).join("/");
}

/** The error of a failed call, with the message of the OpenAI-style body when there is one. */
export async function responseError(response: Response): Promise<Error> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { error?: { message?: string } };
    if (body.error?.message) return new Error(body.error.message);
  } catch {
    // Not JSON: use the text as it is.
  }
  return new Error(text.trim() || `${response.status} ${response.statusText}`);
}

/** POST to an admin route; rejects with the server's message on failure. */
export async function post(path: string): Promise<void> {
  const response = await fetch(path, { method: "POST" });
  if (!response.ok) throw await responseError(response);
  await response.body?.cancel();
}

/** Load a model and resolve once it is ready. */
export function loadModel(id: string): Promise<void> {
  return post(`/api/models/load/${modelPath(id)}`);
}

/** Unload a model and resolve once it has stopped. */
export function unloadModel(id: string): Promise<void> {
  return post(`/api/models/unload/${modelPath(id)}`);
}

/** Unload every model. */
export function unloadAll(): Promise<void> {
  return post("/api/models/unload");
}
