/**
 * `GET /v1/models` (and `/models`): the OpenAI model list, with llama-swap's
 * extras so both kinds of clients understand it. One record per listed
 * model, plus aliases (with `includeAliasesInList`), peer models as
 * `<peer>/<model>`, selectors, and the active profile's pins that add a
 * name. Each record says what it is (`meta.llamaswap.type`) and, for local
 * names, whether its model is running (`state`, `status.value`).
 */
import { Hono } from "hono";
import type { Config } from "../config/schema.ts";
import type { Router } from "../router.ts";
import type { ModelState } from "../upstream/state.ts";
import { capabilityFields } from "./capabilities.ts";
import type { RouteContext } from "./context.ts";
import { lookupName } from "./names.ts";
import { peerModels } from "./peers.ts";
import type { ActiveProfile } from "./profiles.ts";

/** One `/v1/models` record. */
export type ModelRecord = Record<string, unknown> & { id: string };

/** The state shown for a name, most alive first: a selector is as alive as its best target. */
const LIVENESS: ModelState[] = ["ready", "starting", "stopping", "failed", "stopped"];

function stateFields(state: ModelState | undefined) {
  if (state === undefined) return {};
  return { state, status: { value: state === "stopped" || state === "failed" ? "unloaded" : "loaded" } };
}

/** The list as served, sorted by id. */
export function modelList(router: Router, profile: ActiveProfile | null): { object: "list"; data: ModelRecord[] } {
  const config = router.config;
  const created = Math.floor(Date.now() / 1000);
  const base = (id: string, owner = "modelswap") => ({ id, object: "model", created, owned_by: owner });
  const localState = (name: string) => {
    const found = lookupName(config, name);
    return found?.kind === "local" ? router.state(found.id) ?? "stopped" : undefined;
  };
  const selectorState = (id: string): ModelState | undefined => {
    const selector = config.selectors[id];
    const targets = selector.strategy === "pin" ? selector.targets.slice(0, 1) : selector.targets;
    const states = targets.map(localState).filter((s): s is ModelState => s !== undefined);
    return states.length ? LIVENESS.find((s) => states.includes(s)) : undefined;
  };
  const data: ModelRecord[] = [];

  for (const [id, model] of Object.entries(config.models)) {
    if (model.unlisted) continue;
    const state = localState(id);
    const record = (recordId: string, type: "model" | "alias") => ({
      ...base(recordId),
      ...(model.name ? { name: model.name } : {}),
      ...(model.description ? { description: model.description } : {}),
      metadata: model.metadata,
      ...capabilityFields(model.capabilities),
      meta: {
        llamaswap: {
          ...model.metadata,
          type,
          ...(type === "model" && model.aliases.length ? { aliases: model.aliases } : {}),
          ...(type === "alias" ? { modelID: id } : {}),
        },
      },
      ...stateFields(state),
    });
    data.push(record(id, "model"));
    if (config.includeAliasesInList) for (const alias of model.aliases) data.push(record(alias, "alias"));
  }

  for (const peer of peerModels(config)) {
    data.push({
      ...base(peer.fqn, peer.peerId),
      name: `${peer.peerId}: ${peer.model}`,
      meta: { llamaswap: { type: "peer", peerID: peer.peerId, modelID: peer.model } },
    });
  }

  for (const [id, selector] of Object.entries(config.selectors)) {
    if (selector.unlisted) continue;
    data.push({
      ...base(id),
      ...(selector.name ? { name: selector.name } : {}),
      ...(selector.description ? { description: selector.description } : {}),
      metadata: selector.metadata,
      meta: {
        llamaswap: {
          ...selector.metadata,
          type: "selector",
          strategy: selector.strategy,
          targets: selector.targets,
          ...(selector.strategy === "spillover" ? { spillover: selector.settings.spillover } : {}),
        },
      },
      ...stateFields(selectorState(id)),
    });
  }

  if (profile) {
    for (const [pin, target] of Object.entries(profile.profile.pins)) {
      if (target === null || isName(config, pin)) continue;
      data.push({
        ...base(pin),
        meta: { llamaswap: { type: "profile", profile: profile.name, modelID: target } },
        ...stateFields(Object.hasOwn(config.selectors, target) ? selectorState(target) : localState(target)),
      });
    }
  }

  data.sort((a, b) => a.id.localeCompare(b.id));
  return { object: "list", data };
}

/** Whether `name` already means something without a profile. */
function isName(config: Config, name: string): boolean {
  return lookupName(config, name) !== undefined || Object.hasOwn(config.selectors, name);
}

/** The listing routes. */
export function modelListRoutes(ctx: RouteContext): Hono {
  const app = new Hono();
  const list = () => modelList(ctx.router(), ctx.names.profiles.active());
  app.get("/v1/models", (c) => c.json(list()));
  app.get("/models", (c) => c.json(list()));
  return app;
}
