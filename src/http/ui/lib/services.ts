/**
 * What every page may use, built once by main.ts and handed down through a
 * Preact context (no module-level singletons).
 */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { HardwareHistory } from "./hardware.ts";
import type { LiveState } from "./live.ts";
import type { Theme } from "./theme.ts";

/** The dashboard's shared parts. */
export interface Services {
  live: LiveState;
  hardware: HardwareHistory;
  theme: Theme;
}

/** The context carrying {@link Services}. */
export const ServicesContext = createContext<Services | null>(null);

/** The dashboard's shared parts (inside the app). */
export function useServices(): Services {
  const services = useContext(ServicesContext);
  if (!services) throw new Error("dashboard: a page was rendered outside the app");
  return services;
}
