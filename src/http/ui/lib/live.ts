/**
 * The dashboard's live view of the router, kept from `/api/events` (a
 * snapshot first, then changes; the browser's EventSource reconnects by
 * itself and each reconnect starts with a new snapshot). Besides the models,
 * it remembers what the feed does not replay: the swaps and state changes
 * seen since the page opened, for the swap timeline.
 */
import type { ActivityRecord, ModelState, ModelView, Snapshot, StateEvent, SwapEvent } from "../api.ts";
import { Store } from "./store.ts";

/** Swaps kept for the timeline. */
const MAX_SWAPS = 200;
/** State changes kept for the timeline. */
const MAX_TRANSITIONS = 2000;
/** Recent requests kept (the snapshot sends up to 100). */
const MAX_ACTIVITY = 200;

/** One swap, from its start to its end. */
export interface SwapRecord {
  id: number;
  target: string;
  evict: string[];
  reason: string;
  /** Page clock (ms epoch). */
  startedAt: number;
  finishedAt: number | null;
  durationMs: number | null;
  error: string | null;
  context: SwapEvent["context"] | null;
}

/** A model entering a state, on the page's clock. */
export interface Transition {
  model: string;
  state: ModelState;
  at: number;
}

/** The feed connection as the header shows it. */
export type Connection = "connecting" | "live" | "reconnecting";

/** Live state from `/api/events`. */
export class LiveState {
  readonly connection = new Store<Connection>("connecting");
  readonly version = new Store("");
  readonly models = new Store<ModelView[]>([]);
  readonly swaps = new Store<SwapRecord[]>([]);
  readonly transitions = new Store<Transition[]>([]);
  readonly activity = new Store<ActivityRecord[]>([]);
  /** Crashes seen since the page opened (model, reason, when). */
  readonly crashes = new Store<{ model: string; reason: string; at: number }[]>([]);
  /** When the page started listening. */
  readonly since = Date.now();
  #events: EventSource | null = null;

  /** Open the feed (`?format=modelswap`: this dashboard's own event format). */
  connect(): void {
    const events = new EventSource("/api/events?format=modelswap&logs=0");
    this.#events = events;
    const on = <T>(name: string, handle: (data: T) => void) =>
      events.addEventListener(name, (event) => handle(JSON.parse((event as MessageEvent<string>).data) as T));
    on<Snapshot>("snapshot", (snapshot) => this.#snapshot(snapshot));
    on<ModelView[]>("models", (models) => this.models.set(models));
    on<StateEvent>("state", (change) => this.#transition(change.model, change.to));
    on<SwapEvent>("swap", (swap) => this.#swap(swap));
    on<{ model: string; reason: string }>("crash", (crash) => this.crashes.update((list) => [...list.slice(-99), { ...crash, at: Date.now() }]));
    on<ActivityRecord>("activity", (record) => this.activity.update((list) => [record, ...list].slice(0, MAX_ACTIVITY)));
    events.addEventListener("open", () => this.connection.set("live"));
    events.addEventListener("error", () => this.connection.set("reconnecting"));
  }

  /** Close the feed. */
  close(): void {
    this.#events?.close();
  }

  #snapshot(snapshot: Snapshot): void {
    this.version.set(snapshot.version);
    const known = new Map(this.models.value.map((m) => [m.model, m.state]));
    // A model first seen (or seen changed across a reconnect) starts its timeline lane here.
    for (const model of snapshot.models) if (known.get(model.model) !== model.state) this.#transition(model.model, model.state);
    this.models.set(snapshot.models);
    this.activity.set(snapshot.activity.slice(0, MAX_ACTIVITY));
  }

  #transition(model: string, state: ModelState): void {
    this.transitions.update((list) => [...list.slice(-(MAX_TRANSITIONS - 1)), { model, state, at: Date.now() }]);
  }

  #swap(event: SwapEvent): void {
    const now = Date.now();
    this.swaps.update((list) => {
      if (event.phase === "started") {
        const record: SwapRecord = {
          id: event.id,
          target: event.target,
          evict: event.evict,
          reason: event.reason,
          startedAt: now,
          finishedAt: null,
          durationMs: null,
          error: null,
          context: null,
        };
        return [...list.slice(-(MAX_SWAPS - 1)), record];
      }
      const finished = (record: SwapRecord): SwapRecord => ({
        ...record,
        finishedAt: now,
        durationMs: event.durationMs ?? now - record.startedAt,
        error: event.error ?? null,
        context: event.context ?? null,
      });
      const index = list.findIndex((record) => record.id === event.id && record.finishedAt === null);
      if (index >= 0) return list.map((record, i) => (i === index ? finished(record) : record));
      // Its start was before the page opened.
      const started = now - (event.durationMs ?? 0);
      const record = { id: event.id, target: event.target, evict: event.evict, reason: event.reason, startedAt: started } as SwapRecord;
      return [...list.slice(-(MAX_SWAPS - 1)), finished(record)];
    });
  }
}
