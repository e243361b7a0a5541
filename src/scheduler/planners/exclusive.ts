/**
 * The default policy when neither groups nor a matrix is configured: every
 * model is exclusive, so loading one stops all others (llama-swap's hidden
 * "(default)" group).
 */
import type { Planner } from "../effects.ts";

/** One model at a time: every other running model is evicted. */
export class ExclusivePlanner implements Planner {
  /** Every running model except the target. */
  evictionFor(target: string, running: string[]): string[] {
    return running.filter((model) => model !== target);
  }

  /** Why the target stops what it stops, for the swap log line. */
  explain(target: string, running: string[]): string {
    return this.evictionFor(target, running).length > 0
      ? "one model at a time: no groups or matrix are configured"
      : "nothing else is running";
  }
}
