/**
 * What an HTTP request holds of a model: a ticket while it waits, then a
 * lease on the ready process — never the process itself.
 */
import type { UpstreamConnection } from "./upstream/upstream.ts";

/** The right to send requests to a ready model's process; release it exactly once. */
export interface Lease extends UpstreamConnection {
  readonly model: string;
  /** Ends this request's claim on the model (serve done). Safe to call twice. */
  release(): void;
}

/** A request admitted by the scheduler, waiting for its model. */
export interface Ticket {
  /** Resolves when the model is ready for this request; rejects on failure or cancel. */
  lease: Promise<Lease>;
  /** True when the model was not ready at admission (the client will wait). */
  mustWait: boolean;
}
