/**
 * Pages are addressed by the URL's fragment (`/ui#/models/alpha/logs`), so
 * every page can be bookmarked and reloaded, and the server serves one
 * document for all of them.
 */
import { useEffect, useState } from "preact/hooks";

/** The fragment's path split into decoded segments: `#/models/a%2Fb/logs` → `["models", "a/b", "logs"]`. */
export function routeOf(hash: string): string[] {
  const path = hash.replace(/^#\/?/, "");
  return path === "" ? [] : path.split("/").map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      return segment;
    }
  });
}

/** The fragment for route segments (each encoded, so a model id with `/` stays one segment). */
export function href(...segments: string[]): string {
  return `#/${segments.map(encodeURIComponent).join("/")}`;
}

/** The current route, re-rendering on navigation. */
export function useRoute(): string[] {
  const [route, setRoute] = useState(() => routeOf(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(routeOf(location.hash));
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

/** Go to a route. */
export function navigate(...segments: string[]): void {
  location.hash = href(...segments);
}
