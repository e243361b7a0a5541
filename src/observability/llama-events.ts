/**
 * `/api/events` in llama-swap's format, so its UI and the tools written for
 * it read modelswap: every message is an SSE `message` whose data is
 * `{"type": …, "data": "<JSON string>"}`, with llama-swap's types and
 * payloads — `modelStatus` (the model list), `logData` (`proxy` and
 * `upstream` output), `activity` (a finished request, llama-swap's row),
 * `inflight` (snapshot, upsert, remove), `uiConfig` and `profileChanged`.
 * A subscriber starts with the log history, the models, the UI config, the
 * active profile and the in-flight list, as llama-swap's do.
 */
import { concatBytes } from "../bytes.ts";
import { encodeSSE } from "../sse.ts";
import type { ActivityRecord } from "./activity-record.ts";
import type { FeedFormat } from "./events.ts";
import type { InflightUpdate } from "./inflight.ts";

/** The name of this format (`/api/events?format=llama-swap`, and the default). */
export const LLAMA_SWAP_FORMAT = "llama-swap";

/** llama-swap's message types. */
export type LlamaEventType = "modelStatus" | "logData" | "activity" | "inflight" | "uiConfig" | "profileChanged";

/** One model of a `modelStatus` message (llama-swap's `apiModel`). */
export interface LlamaModel {
  id: string;
  name: string;
  description: string;
  /** stopped, starting, ready, stopping (and modelswap's failed). */
  state: string;
  unlisted: boolean;
  /** The peer serving it, "" for a local model. */
  peerID: string;
  aliases?: string[];
}

/** Where the format reads the router's state. */
export interface LlamaEventSources {
  /** Every model, local ones then peers' (each call reads the current config). */
  models(): LlamaModel[];
  /** The history of the `proxy` or `upstream` log. */
  history(source: "proxy" | "upstream"): string;
  /** llama-swap's `ui` block (`activity.session_id`). */
  uiConfig(): unknown;
  /** The active profile's name, or null. */
  activeProfile(): string | null;
  inflight(): InflightUpdate;
  /** A finished request as llama-swap's activity row. */
  row(record: ActivityRecord): unknown;
}

/** One llama-swap message: an SSE `message` event whose data is the envelope. */
export function llamaMessage(type: LlamaEventType, data: unknown): Uint8Array {
  return encodeSSE({ event: "message", data: JSON.stringify({ type, data: JSON.stringify(data) }) });
}

/** llama-swap's format over these sources. */
export function llamaSwapFormat(sources: LlamaEventSources): FeedFormat {
  const models = () => llamaMessage("modelStatus", sources.models());
  const profile = () => llamaMessage("profileChanged", { active: sources.activeProfile() });
  return {
    state(initial, { logs }) {
      const history = initial && logs
        ? (["proxy", "upstream"] as const).map((source) => llamaMessage("logData", { source, data: sources.history(source) }))
        : [];
      return [...history, models(), llamaMessage("uiConfig", sources.uiConfig()), profile(), llamaMessage("inflight", sources.inflight())];
    },
    encode(event, data) {
      switch (event) {
        case "models":
          return models();
        case "log": {
          const { source, text } = data as { source: string; text: string };
          return llamaMessage("logData", { source: source === "proxy" ? "proxy" : "upstream", data: text });
        }
        case "activity":
          return llamaMessage("activity", sources.row(data as ActivityRecord));
        case "inflight":
          return llamaMessage("inflight", data);
        case "profile":
          return concatBytes([profile(), models()]);
        default:
          return null;
      }
    },
    dropped: () => null,
  };
}
