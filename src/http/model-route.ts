/**
 * The path of one model-dispatched request: find the model the request
 * names, resolve it (profile, selector, local model or peer), apply that
 * model's filters, then either admit it through the router — waiting for the
 * model, with loading feedback when the client streams — or stream it to the
 * peer. Its work follows the outcome's signal, so `POST
 * /api/inflight/:id/cancel` ends it like a client that leaves, except that
 * the client is told (the cancel's error, or a final SSE error event).
 */
import { ModelswapError, toModelswapError } from "../errors.ts";
import type { RequestObservation } from "../observer.ts";
import type { Lease } from "../lease.ts";
import type { RouteContext } from "./context.ts";
import { rewriteBody, rewriteQueryModel } from "./filters.ts";
import { LoadingProgress, loadingResponse } from "./loading.ts";
import { type ModelRequest, readModelRequest } from "./model.ts";
import type { Resolved } from "./names.ts";
import type { RequestOutcome } from "./outcomes.ts";
import { forwardToPeer } from "./peers.ts";
import { forward } from "./proxy.ts";

/**
 * Serve one request whose body or query names a model; `upstreamPath` is
 * what the upstream receives. Once the model is known, `outcome` records the
 * request for it; a refusal before that is recorded by the app.
 */
export async function modelRoute(ctx: RouteContext, request: Request, upstreamPath: string, outcome: RequestOutcome): Promise<Response> {
  return routeModelRequest(ctx, request, await readModelRequest(request), upstreamPath, outcome);
}

/**
 * {@link modelRoute} for a request already read, or built by a route that
 * translates another API (Ollama's) into an OpenAI one: `parsed` is what
 * the upstream is sent; `request` gives the method, headers and the
 * client's signal. `onGranted` is told which model serves the request once
 * it holds that model (local: the lease; peer: the response headers).
 */
export async function routeModelRequest(
  ctx: RouteContext,
  request: Request,
  parsed: ModelRequest,
  upstreamPath: string,
  outcome: RequestOutcome,
  onGranted?: (target: Resolved) => void,
): Promise<Response> {
  const router = ctx.router();
  const config = router.config;
  if (!parsed.model) {
    throw new ModelswapError(400, "model_required", 'request names no model: set "model" in the JSON body (or the form field / ?model= query)');
  }
  const target = ctx.names.forRequest(config, parsed.model, (id) => router.state(id));
  const signal = outcome.signal;
  // The selector's reservation ends with the request however it ends; a client that goes away (or a cancel) ends it too.
  signal.addEventListener("abort", target.release, { once: true });
  const observe = (model: string): RequestObservation => {
    const observation = outcome.observe(model, parsed.stream);
    return {
      granted: () => {
        observation.granted();
        onGranted?.(target);
      },
      chunk: (bytes) => observation.chunk(bytes),
      end: (result) => {
        target.release();
        observation.end(result);
      },
    };
  };
  /** The `model` the upstream should see when it differs from what the client sent. */
  const changed = (model: string) => (model === parsed.model ? undefined : model);

  try {
    if (target.kind === "local") {
      return await localRoute(ctx, request, upstreamPath, parsed, outcome, {
        id: target.id,
        requested: target.name,
        model: changed(config.models[target.id].useModelName || target.name),
        observation: observe(target.id),
      });
    }
    const model = changed(target.peer.model);
    const body = rewriteBody(parsed.body, { model, filters: target.peer.peer.filters, requested: target.name });
    const observation = observe(target.peer.fqn);
    outcome.requestBody(body);
    return await forwardToPeer({
      target: target.peer,
      method: request.method,
      path: rewriteQueryModel(upstreamPath, model),
      headers: request.headers,
      body,
      signal,
      observation,
    });
  } catch (error) {
    target.release();
    throw error;
  }
}

/** Where a local request goes and what its upstream sees. */
interface LocalTarget {
  id: string;
  /** The name after profile and selector rewrites (picks the setParamsByID entry). */
  requested: string;
  /** The `model` to send upstream, when it differs from the client's. */
  model: string | undefined;
  observation: RequestObservation;
}

async function localRoute(
  ctx: RouteContext,
  request: Request,
  upstreamPath: string,
  parsed: ModelRequest,
  outcome: RequestOutcome,
  target: LocalTarget,
): Promise<Response> {
  const { id, observation } = target;
  const router = ctx.router();
  const model = router.config.models[id];
  const body = rewriteBody(parsed.body, { model: target.model, filters: model.filters, requested: target.requested });
  outcome.requestBody(body);
  const path = rewriteQueryModel(upstreamPath, target.model);
  const progress = new LoadingProgress();
  const { signal } = outcome;
  let ticket;
  try {
    ticket = router.request(id, signal, progress.update);
  } catch (error) {
    observation.end({ status: toModelswapError(error).status, bytes: 0, error: toModelswapError(error).message });
    throw error;
  }
  const send = (lease: Lease) => {
    observation.granted();
    return forward({
      lease,
      method: request.method,
      path,
      headers: request.headers,
      body,
      signal,
      stallTimeoutMs: model.stallTimeout * 1000,
      tap: (chunk) => observation.chunk(chunk),
      onDone: (outcome) => observation.end(outcome),
    });
  };
  const lease = ticket.lease.catch((error) => {
    // A cancel while waiting reaches the scheduler as a client that left; the client is told it was cancelled.
    const err = outcome.cancelled ?? toModelswapError(error);
    observation.end({ status: err.status, bytes: 0, error: err.message });
    throw err;
  });
  if (ticket.mustWait && parsed.stream && model.sendLoadingState && upstreamPath.startsWith("/v1/chat/completions")) {
    return loadingResponse({
      model: id,
      lease,
      progress,
      state: () => router.state(id) ?? "stopped",
      forward: send,
      // The client's own signal: a cancel is not a client that left, and ends the stream with its error event.
      signal: request.signal,
    });
  }
  return send(await lease);
}
