/**
 * The default policy when neither groups nor a matrix is configured: every
 * model is exclusive, so loading one stops all others (llama-swap's hidden
 * "(default)" group).
 */
import type { Planner } from "../effects.ts";
import { DEFAULT_GROUP } from "./groups.ts";

/** One model at a time: every other running model is evicted. */
export class ExclusivePlanner implements Planner {
  /** Every running model except the target. */
  evictionFor(target: string, running: string[]): string[] {
    return running.filter((model) => model !== target);
  }

  /** e.g. `group=(default) evict=[a]`, matching the groups planner's wording. */
  explain(target: string, running: string[]): string {
    return `group=${DEFAULT_GROUP} evict=[${this.evictionFor(target, running).join(", ")}]`;
  }
}
