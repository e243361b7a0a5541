/**
 * What the HTTP routes share: the running server's parts they read, and the
 * name resolution that lives as long as the app.
 */
import type { LogHub } from "../logging/logger.ts";
import type { Observability } from "../observability/observer.ts";
import type { Observer } from "../observer.ts";
import type { Router } from "../router.ts";
import type { ModelNames } from "./names.ts";

/** What the app needs from the running server. */
export interface AppContext {
  /** The current router (its config changes on reload). */
  router(): Router;
  logs: LogHub;
  observer: Observer;
  /** Metrics, activity and the event feed behind `/metrics`, `/api/activity` and `/api/events`. */
  observability: Observability;
  version: string;
}

/** The context of every route: the server's parts plus name resolution. */
export interface RouteContext extends AppContext {
  names: ModelNames;
}
