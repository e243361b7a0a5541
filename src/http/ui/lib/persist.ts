/**
 * Dashboard preferences kept in the browser (theme, shown columns, log
 * font size…), under one `modelswap.` prefix. Storage may be unavailable
 * (private mode, disabled): the preference then lasts as long as the page.
 */
import { useState } from "preact/hooks";

const PREFIX = "modelswap.";

/** The stored preference `key`, or `fallback`. */
export function loadPreference<T>(key: string, fallback: T): T {
  try {
    const text = localStorage.getItem(PREFIX + key);
    return text === null ? fallback : JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** Store the preference `key`. */
export function savePreference<T>(key: string, value: T): void {
  try {
    localStorage.setItem(PREFIX + key, JSON.stringify(value));
  } catch {
    // Not stored: it lasts as long as the page.
  }
}

/** `useState` whose value is kept as the preference `key`. */
export function usePreference<T>(key: string, fallback: T): [T, (value: T) => void] {
  const [value, setValue] = useState<T>(() => loadPreference(key, fallback));
  return [value, (next: T) => {
    savePreference(key, next);
    setValue(next);
  }];
}
