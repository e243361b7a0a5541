/**
 * The path of one model-dispatched request: find the model, admit it
 * through the router, wait for the model (with loading feedback when the
 * client streams), and forward it.
 */
import { resolveModelId } from "../config/load.ts";
import { ModelswapError } from "../errors.ts";
import type { Lease } from "../router.ts";
import type { AppContext } from "./app.ts";
import { asModelswapError } from "./errors.ts";
import { LoadingProgress, loadingResponse } from "./loading.ts";
import { bodyBytes, readModelRequest } from "./model.ts";
import { forward } from "./proxy.ts";

/** Serve one request whose body or query names a model; `upstreamPath` is what the upstream receives. */
export async function modelRoute(ctx: AppContext, request: Request, upstreamPath: string): Promise<Response> {
  const config = () => ctx.router().config;
  const parsed = await readModelRequest(request);
  if (!parsed.model) {
    throw new ModelswapError(400, "model_required", 'request names no model: set "model" in the JSON body (or the form field / ?model= query)');
  }
  const id = resolveModelId(config(), parsed.model);
  if (!id) {
    throw new ModelswapError(404, "model_not_found", `model "${parsed.model}" is not configured; GET /v1/models lists the available models`, { model: parsed.model });
  }
  const model = config().models[id];
  const router = ctx.router();
  const observation = ctx.observer.request({ model: id, path: new URL(request.url).pathname, method: request.method, stream: parsed.stream });
  const progress = new LoadingProgress();
  let ticket;
  try {
    ticket = router.request(id, request.signal, progress.update);
  } catch (error) {
    observation.end({ status: asModelswapError(error).status, bytes: 0, error: asModelswapError(error).message });
    throw error;
  }
  const send = (lease: Lease) => {
    observation.granted();
    return forward({
      lease,
      method: request.method,
      path: upstreamPath,
      headers: request.headers,
      body: bodyBytes(parsed.body, model.useModelName || undefined),
      signal: request.signal,
      stallTimeoutMs: model.stallTimeout * 1000,
      tap: (chunk) => observation.chunk(chunk),
      onDone: (outcome) => observation.end(outcome),
    });
  };
  const lease = ticket.lease.catch((error) => {
    const err = asModelswapError(error);
    observation.end({ status: err.status, bytes: 0, error: err.message });
    throw err;
  });
  if (ticket.mustWait && parsed.stream && model.sendLoadingState && upstreamPath.startsWith("/v1/chat/completions")) {
    return loadingResponse({
      model: id,
      lease,
      progress,
      state: () => router.upstream(id)?.state ?? "stopped",
      forward: send,
      signal: request.signal,
    });
  }
  return send(await lease);
}
