/**
 * Ollama's `options` as the sampling parameters of an OpenAI request to
 * llama-server (which reads its own extensions such as `top_k`, `min_p` and
 * `repeat_penalty` in the same body). Options that set up a model when it
 * loads (`num_ctx`, `num_gpu`, `num_thread`, …) belong to the model's `cmd`
 * here and are ignored, as are options llama.cpp no longer has.
 */
import { ModelswapError } from "../../errors.ts";
import { clipped } from "../bounds.ts";

/** Numeric options and the request field each one becomes. */
const NUMERIC: Record<string, string> = {
  temperature: "temperature",
  top_p: "top_p",
  top_k: "top_k",
  min_p: "min_p",
  typical_p: "typical_p",
  seed: "seed",
  repeat_penalty: "repeat_penalty",
  repeat_last_n: "repeat_last_n",
  presence_penalty: "presence_penalty",
  frequency_penalty: "frequency_penalty",
  mirostat: "mirostat",
  mirostat_tau: "mirostat_tau",
  mirostat_eta: "mirostat_eta",
  num_keep: "n_keep",
};

function wrongType(key: string, rule: string, value: unknown): ModelswapError {
  const got = Array.isArray(value) ? "an array" : value === null ? "null" : typeof value;
  return new ModelswapError(400, "invalid_option", `option ${JSON.stringify(clipped(key))} must be ${rule} (got ${got})`);
}

/** The stop sequences of `options.stop`: a string or a list of strings. */
function stopSequences(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) return value;
  throw wrongType("stop", "a string or a list of strings", value);
}

/**
 * The OpenAI/llama-server fields for Ollama `options` (empty when none).
 * `num_predict` becomes `max_tokens` (-1 and -2, "no limit" and "fill the
 * context", leave it unset). A known option of the wrong type is a 400;
 * unknown and load-time options are ignored.
 */
export function samplingParams(options: Record<string, unknown> | undefined): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options ?? {})) {
    if (value === null || value === undefined) continue;
    if (key === "stop") {
      params.stop = stopSequences(value);
      continue;
    }
    if (key !== "num_predict" && !Object.hasOwn(NUMERIC, key)) continue;
    if (typeof value !== "number" || !Number.isFinite(value)) throw wrongType(key, "a number", value);
    if (key === "num_predict") {
      if (value >= 0) params.max_tokens = Math.floor(value);
    } else {
      params[NUMERIC[key]] = value;
    }
  }
  return params;
}
