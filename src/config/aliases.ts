/**
 * Model ids and their aliases (including `setParamsByID` names, which the
 * loader adds to the aliases): the local half of name resolution.
 */
import type { Config } from "./schema.ts";

/** Every local name → its model id, per config (built once per config object). */
const indexes = new WeakMap<Config, Map<string, string>>();

function aliasIndex(config: Config): Map<string, string> {
  let index = indexes.get(config);
  if (index) return index;
  index = new Map();
  // An id wins over another model's alias of the same name; the first model listing an alias wins among aliases.
  for (const model of Object.values(config.models)) {
    for (const alias of model.aliases) if (!index.has(alias)) index.set(alias, model.id);
  }
  for (const id of Object.keys(config.models)) index.set(id, id);
  indexes.set(config, index);
  return index;
}

/** The model id a local name (id or alias) refers to, or undefined. */
export function localModelId(config: Config, name: string): string | undefined {
  return aliasIndex(config).get(name);
}
