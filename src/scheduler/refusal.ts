/**
 * Why the scheduler refused or failed a request. The scheduler stays free of
 * every other module, so it carries its own small error type; the router
 * turns it into the HTTP error the client sees (same status, code, message).
 */

/** A request the scheduler refused at admission or failed while it waited. */
export class SchedulerError extends Error {
  readonly status: number;
  readonly code: string;
  /** The model the request named. */
  readonly details: { model: string };
  /** Seconds for a `Retry-After` header, when retrying soon may work. */
  readonly retryAfter?: number;

  constructor(status: number, code: string, message: string, model: string, retryAfter?: number) {
    super(message);
    this.name = "SchedulerError";
    this.status = status;
    this.code = code;
    this.details = { model };
    this.retryAfter = retryAfter;
  }
}

/** 404: the name is not a configured local model. */
export function unknownModel(model: string): SchedulerError {
  return new SchedulerError(
    404,
    "model_not_found",
    `model "${model}" not found: it is not a configured local model; check the name against GET /v1/models`,
    model,
  );
}

/** 404: the model left the config while the request waited. */
export function removedModel(model: string): SchedulerError {
  return new SchedulerError(
    404,
    "model_not_found",
    `model "${model}" was removed from the config while this request waited; use a configured model`,
    model,
  );
}

/** 429: `concurrencyLimit` requests are already admitted for the model. */
export function overLimit(model: string, limit: number): SchedulerError {
  return new SchedulerError(
    429,
    "concurrency_limit",
    `model "${model}" already has ${limit} requests queued, loading or in flight (its concurrencyLimit); ` +
      `retry shortly or raise concurrencyLimit for it`,
    model,
    1,
  );
}

/** 503: `maxQueue` requests already wait. */
export function queueFull(model: string, queued: number): SchedulerError {
  return new SchedulerError(
    503,
    "queue_full",
    `the request queue is full (${queued} requests waiting), so "${model}" cannot be queued; retry shortly or raise maxQueue`,
    model,
    1,
  );
}

/** 503: the model was unloaded before the request was served. */
export function unloaded(model: string): SchedulerError {
  return new SchedulerError(
    503,
    "model_unloaded",
    `model "${model}" was unloaded before this request was served; send the request again to load it`,
    model,
    1,
  );
}

/** 503: the router is shutting down. */
export function shuttingDown(model: string): SchedulerError {
  return new SchedulerError(
    503,
    "shutting_down",
    `modelswap is shutting down, so the request for "${model}" was not served; retry against the new instance`,
    model,
  );
}
