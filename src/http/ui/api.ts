/**
 * The dashboard's view of the server: the shapes of the public HTTP APIs it
 * reads (the server's own types where they exist, so they cannot drift) and
 * small helpers to call them. The dashboard uses nothing a script could not.
 */
import type { ConfigCheck, ConfigView } from "../config-editor.ts";
import type { LocatedIssue } from "../config-locate.ts";
import type { ReloadPlan } from "../config-plan.ts";
import type { ActivityRecord } from "../../observability/activity.ts";
import type { ActivityStats, Histogram, LlamaActivityRow as ActivityRow, LlamaTokens as TokenFigures } from "../../observability/activity-stats.ts";
import type { CaptureJson as Capture } from "../../observability/captures.ts";
import type { InflightEntry as InflightRequest } from "../../observability/inflight.ts";
import type { ModelView, Snapshot } from "../../observability/observer.ts";
import type { SwapContext } from "../../observer.ts";
import type { DeviceMemoryInfo, HardwareDevice, HardwareInfo, ModelMemoryInfo } from "../../memory/view.ts";
import type { ModelState } from "../../upstream/state.ts";

export type {
  ActivityRecord,
  ActivityRow,
  ActivityStats,
  Capture,
  Histogram,
  InflightRequest,
  TokenFigures,
  ConfigCheck,
  ConfigView,
  DeviceMemoryInfo,
  HardwareDevice,
  HardwareInfo,
  LocatedIssue,
  ModelMemoryInfo,
  ModelState,
  ModelView,
  ReloadPlan,
  Snapshot,
  SwapContext,
};

/** A swap as `/api/events` reports it. */
export interface SwapEvent {
  phase: "started" | "finished";
  id: number;
  target: string;
  evict: string[];
  reason: string;
  durationMs?: number;
  error?: string | null;
  context?: SwapContext;
}

/** A model's state change as `/api/events` reports it. */
export interface StateEvent {
  model: string;
  from: ModelState;
  to: ModelState;
}

/** One model of `/api/status`: its live status plus, with the memory planner, its memory. */
export interface StatusModel {
  model: string;
  memory?: ModelMemoryInfo;
}

/** `GET /api/status`. */
export interface Status {
  version: string;
  models: StatusModel[];
  devices?: DeviceMemoryInfo[];
}

/** `GET /api/profiles`. */
export interface Profiles {
  active: string | null;
  profiles: { id: string; description: string; pins: Record<string, string | null> }[];
}

/** A page of `GET /api/metrics/activity` (llama-swap's shape). */
export interface ActivityPage {
  data: ActivityRow[];
  page: number;
  limit: number;
  total: number;
  total_pages: number;
}

/** The result of `PUT /api/config`. */
export interface ConfigApplied {
  applied: true;
  etag: string;
  backup: string;
  changes: { added: string[]; changed: string[]; removed: string[] };
  plan: ReloadPlan;
  warnings: LocatedIssue[];
}

/** An error from the server, with its status and OpenAI-style code and details. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(status: number, message: string, code = "", details: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** The error of a failed response, with the message of the OpenAI-style body when there is one. */
export async function responseError(response: Response): Promise<ApiError> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { error?: { message?: string; code?: string } | string };
    const error = body.error;
    if (typeof error === "string") return new ApiError(response.status, error);
    if (error?.message) return new ApiError(response.status, error.message, error.code ?? "", error as Record<string, unknown>);
  } catch {
    // Not JSON: the text as it is.
  }
  return new ApiError(response.status, text.trim() || `${response.status} ${response.statusText}`);
}

/** A fetch that rejects with an {@link ApiError} unless the answer is 2xx. */
export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(path, init);
  if (!response.ok) throw await responseError(response);
  return response;
}

/** GET (or send) and parse JSON. */
export async function getJson<T>(path: string, init: RequestInit = {}): Promise<T> {
  return await (await request(path, init)).json() as T;
}

/** Send a JSON body and parse the JSON answer. */
export function sendJson<T>(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  return getJson<T>(path, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal });
}

/** A path segment for a model id (ids may contain `/`). */
export function modelPath(id: string): string {
  return id.split("/").map(encodeURIComponent).join("/");
}

/** POST to an admin route, ignoring the answer's body. */
async function post(path: string): Promise<void> {
  const response = await request(path, { method: "POST" });
  await response.body?.cancel();
}

/** Load a model; resolves once it is ready. */
export const loadModel = (id: string) => post(`/api/models/load/${modelPath(id)}`);
/** Unload a model; resolves once it has stopped. */
export const unloadModel = (id: string) => post(`/api/models/unload/${modelPath(id)}`);
/** Unload every model. */
export const unloadAll = () => post("/api/models/unload");
/** Delete a model's saved context (keepContext). */
export const forgetContext = (id: string) => post(`/api/models/forget-context/${modelPath(id)}`);
/** Cancel an in-flight request. */
export const cancelInflight = (id: string) => post(`/api/inflight/${encodeURIComponent(id)}/cancel`);
