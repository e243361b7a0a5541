/**
 * Profiles (reference §5.2): named sets of pins from a requested name to a
 * target, switched at runtime. At most one is active; none is at startup
 * and after every config reload. The active profile rewrites the requested
 * model before selectors, aliases, filters and routing; a pin to nothing
 * disables that name while the profile is active.
 */
import { Hono } from "hono";
import type { Config, ProfileConfig } from "../config/schema.ts";
import { ModelswapError } from "../errors.ts";
import { echoed } from "./bounds.ts";

/** The active profile, by name. */
export interface ActiveProfile {
  name: string;
  profile: ProfileConfig;
}

/**
 * Which profile is active. The choice belongs to the config it was made
 * for: once the config is replaced (a reload), no profile is active.
 */
export class ProfileSwitch {
  readonly #config: () => Config;
  #active: { name: string; config: Config } | null = null;

  constructor(config: () => Config) {
    this.#config = config;
  }

  /** The active profile, or null. */
  active(): ActiveProfile | null {
    const config = this.#config();
    if (this.#active === null || this.#active.config !== config || !Object.hasOwn(config.profiles, this.#active.name)) {
      return null;
    }
    return { name: this.#active.name, profile: config.profiles[this.#active.name] };
  }

  /** Activate the profile `name`, or none with null. Throws 404 for an unknown name. */
  activate(name: string | null): void {
    const config = this.#config();
    if (name !== null && !Object.hasOwn(config.profiles, name)) {
      const known = Object.keys(config.profiles).sort();
      throw new ModelswapError(404, "profile_not_found", `no profile named ${echoed(name)}; configured profiles: ${known.length ? known.join(", ") : "none"}`);
    }
    this.#active = name === null ? null : { name, config };
  }

  /** The name a request for `name` continues with under the active profile. Throws 404 when the profile disables it. */
  rewrite(name: string): string {
    const active = this.active();
    if (!active || !Object.hasOwn(active.profile.pins, name)) return name;
    const target = active.profile.pins[name];
    if (target === null) {
      throw new ModelswapError(
        404,
        "model_disabled",
        `model "${name}" is disabled by the active profile "${active.name}"; pick another model or switch profiles with PUT /api/profiles/active`,
        { model: name },
      );
    }
    return target;
  }
}

/** `GET /api/profiles` and `PUT /api/profiles/active`. */
export function profileRoutes(profiles: ProfileSwitch, config: () => Config): Hono {
  const app = new Hono();
  app.get("/api/profiles", (c) => {
    const all = config().profiles;
    return c.json({
      active: profiles.active()?.name ?? null,
      profiles: Object.keys(all).sort().map((id) => ({ id, description: all[id].description, pins: all[id].pins })),
    });
  });
  app.put("/api/profiles/active", async (c) => {
    const usage = 'send {"name": "<profile>"} to activate a profile, or {"name": null} for none';
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new ModelswapError(400, "invalid_json", `request body is not valid JSON; ${usage}`);
    }
    if (typeof body !== "object" || body === null || !("name" in body)) {
      throw new ModelswapError(400, "name_required", `missing "name"; ${usage}`);
    }
    const { name } = body;
    if (name !== null && typeof name !== "string") {
      throw new ModelswapError(400, "invalid_name", `"name" must be a string or null; ${usage}`);
    }
    profiles.activate(name === "" ? null : name);
    return c.json({ active: profiles.active()?.name ?? null });
  });
  return app;
}
