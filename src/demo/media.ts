/**
 * The demo's OpenAI audio and image endpoints: transcription (multipart
 * upload), speech and image generation, with fixed, recognisable output so
 * tests can check the router relays bodies of every kind.
 */
import type { Context, Hono } from "hono";
import type { Demo } from "./context.ts";
import { errorResponse, readJson } from "./http.ts";

/** `POST /v1/audio/transcriptions`: the `--reply` text, and the size of the uploaded `file`. */
async function transcription(demo: Demo, c: Context): Promise<Response> {
  let form: FormData;
  try {
    form = await c.req.raw.formData();
  } catch (error) {
    return errorResponse(400, `expected a multipart/form-data body with a "file" field: ${(error as Error).message}`);
  }
  const file = form.get("file");
  if (!(file instanceof Blob)) return errorResponse(400, 'multipart field "file" is required');
  const model = form.get("model");
  return c.json({
    text: demo.options.reply,
    model: typeof model === "string" ? model : demo.options.model,
    bytes: file.size,
  });
}

/** `POST /v1/audio/speech`: "audio" that spells out its input, with the model in `x-demo-model`. */
async function speech(demo: Demo, c: Context): Promise<Response> {
  const body = await readJson(c.req.raw);
  if (body instanceof Response) return body;
  const model = typeof body.model === "string" ? body.model : demo.options.model;
  const audio = new TextEncoder().encode(`demo audio for: ${String(body.input ?? "")}`);
  return new Response(audio, { headers: { "content-type": "audio/mpeg", "x-demo-model": model } });
}

/** `POST /v1/images/generations`: `n` base64 "images" that spell out the prompt. */
async function images(demo: Demo, c: Context): Promise<Response> {
  const body = await readJson(c.req.raw);
  if (body instanceof Response) return body;
  const count = typeof body.n === "number" ? body.n : 1;
  return c.json({
    created: demo.now(),
    model: body.model ?? demo.options.model,
    data: Array.from({ length: count }, () => ({ b64_json: btoa(`demo image: ${String(body.prompt ?? "")}`) })),
  });
}

/** Add the audio and image routes to `app`. */
export function mediaRoutes(app: Hono, demo: Demo): void {
  app.post("/v1/audio/transcriptions", (c) => transcription(demo, c));
  app.post("/v1/audio/speech", (c) => speech(demo, c));
  app.post("/v1/images/generations", (c) => images(demo, c));
}
