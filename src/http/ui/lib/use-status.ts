/**
 * `GET /api/status` for what the live feed does not carry (each model's
 * declared, planned and measured memory, each device's free memory), read
 * again shortly after the models change.
 */
import { useEffect, useState } from "preact/hooks";
import { getJson, type Status } from "../api.ts";
import { useServices } from "./services.ts";
import { useStore } from "./store.ts";

/** Wait after a change before reading, so a burst of changes costs one read. */
const SETTLE_MS = 300;

/** The latest status, or null before the first answer. */
export function useStatus(): Status | null {
  const models = useStore(useServices().live.models);
  const [status, setStatus] = useState<Status | null>(null);
  useEffect(() => {
    let current = true;
    const timer = setTimeout(() => {
      getJson<Status>("/api/status").then((next) => current && setStatus(next), () => {});
    }, SETTLE_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [models]);
  return status;
}
