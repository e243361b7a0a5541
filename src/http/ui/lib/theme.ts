/**
 * Light and dark themes: the system's choice by default, or the user's,
 * kept in the browser. The choice is applied as `data-theme` on the root
 * element (styles.css keys its colours on it and on `prefers-color-scheme`).
 */
import { loadPreference, savePreference } from "./persist.ts";
import { Store } from "./store.ts";

/** A theme choice. */
export type ThemeChoice = "system" | "light" | "dark";

/** The page's theme. */
export class Theme {
  /** What the user chose. */
  readonly choice = new Store<ThemeChoice>(loadPreference<ThemeChoice>("theme", "system"));
  /** The theme in effect (the system's when the choice is "system"); charts read it for their colours. */
  readonly effective = new Store<"light" | "dark">("light");
  readonly #dark = matchMedia("(prefers-color-scheme: dark)");

  /** Apply the choice now and follow it, and the system's setting, from now on. */
  start(): void {
    this.#apply();
    this.choice.subscribe((choice) => {
      savePreference("theme", choice);
      this.#apply();
    });
    this.#dark.addEventListener("change", () => this.#apply());
  }

  #apply(): void {
    const choice = this.choice.value;
    const resolved = choice === "system" ? (this.#dark.matches ? "dark" : "light") : choice;
    if (choice === "system") delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = choice;
    if (this.effective.value !== resolved) this.effective.set(resolved);
  }
}
