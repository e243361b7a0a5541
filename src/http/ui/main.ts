/**
 * Dashboard entry point: wires the panels to the page and keeps them live
 * from `/api/events` (a snapshot first, then changes; the browser's
 * EventSource reconnects by itself and each reconnect starts with a new
 * snapshot).
 */
import { type ActivityRecord, type ModelView, type Snapshot, type SwapEvent, unloadAll } from "./api.ts";
import { ActivityTable } from "./activity.ts";
import { byId, setText } from "./dom.ts";
import { LogViewer } from "./logs.ts";
import { ModelsPanel } from "./models.ts";
import { Playground } from "./playground.ts";

const logs = new LogViewer(byId("log-view"), byId<HTMLSelectElement>("log-source"), byId<HTMLInputElement>("log-follow"));
const models = new ModelsPanel(byId("models"), byId("models-summary"), byId("swap-note"), (id) => {
  logs.show(id);
  byId("logs-panel").scrollIntoView({ behavior: "smooth", block: "start" });
});
const activity = new ActivityTable(byId("activity"), byId("activity-empty"));
const playground = new Playground(
  byId<HTMLFormElement>("chat-form"),
  byId("chat-log"),
  byId<HTMLSelectElement>("chat-model"),
  byId<HTMLTextAreaElement>("chat-input"),
  byId<HTMLButtonElement>("chat-send"),
  byId<HTMLButtonElement>("chat-clear"),
);
const connection = byId("connection");

function showModels(list: ModelView[]): void {
  models.update(list);
  const ids = list.map((m) => m.model);
  logs.setModels(ids);
  playground.setModels(ids);
}

function setConnection(state: "live" | "reconnecting"): void {
  connection.dataset.state = state;
  setText(connection.querySelector(".label")!, state);
}

const events = new EventSource("/api/events?logs=0");
const on = <T>(name: string, handle: (data: T) => void) =>
  events.addEventListener(name, (event) => handle(JSON.parse((event as MessageEvent<string>).data) as T));

on<Snapshot>("snapshot", (snapshot) => {
  setText(byId("version"), `v${snapshot.version}`);
  showModels(snapshot.models);
  activity.reset(snapshot.activity);
});
on<ModelView[]>("models", showModels);
on<SwapEvent>("swap", (swap) => models.swap(swap));
on<ActivityRecord>("activity", (record) => activity.add(record));
events.addEventListener("open", () => setConnection("live"));
events.addEventListener("error", () => setConnection("reconnecting"));

byId<HTMLButtonElement>("unload-all").addEventListener("click", async (event) => {
  const button = event.currentTarget as HTMLButtonElement;
  button.disabled = true;
  try {
    await unloadAll();
  } finally {
    button.disabled = false;
  }
});

logs.show("proxy");
