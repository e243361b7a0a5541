/** Process state of one model's upstream, as `Upstream` reports it (advisory: never gate a mutation on it). */
export type ModelState = "stopped" | "starting" | "ready" | "stopping" | "failed";
