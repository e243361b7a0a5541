/** The latest swap in one line under the Models title: what is swapping in, what was evicted, how long it took, why. */
import { duration } from "../lib/format.ts";
import { html } from "../lib/html.ts";
import { useServices } from "../lib/services.ts";
import { useStore } from "../lib/store.ts";

/** The note, or nothing before the first swap seen. */
export function SwapNote() {
  const swap = useStore(useServices().live.swaps).at(-1);
  if (!swap) return null;
  const evicting = swap.evict.length ? `, evicting ${swap.evict.join(", ")}` : "";
  const why = swap.reason ? ` (${swap.reason})` : "";
  let text: string;
  if (swap.finishedAt === null) text = `Swapping to ${swap.target}${evicting}${why}…`;
  else if (swap.error) text = `Swap to ${swap.target} failed after ${duration(swap.durationMs ?? 0)}: ${swap.error.split("\n")[0]}`;
  else text = `Swapped to ${swap.target}${evicting} in ${duration(swap.durationMs ?? 0)}${why}`;
  return html`<p id="swap-note" class="swap-note" role="status">${text}</p>`;
}
