/** The Playground page: one tab per kind of request (chat, images, speech, transcription, rerank, load test). */
import { Tabs } from "../components/tabs.ts";
import { html } from "../lib/html.ts";
import { ChatPlayground } from "./playground/chat.ts";
import { ImagesPlayground } from "./playground/images.ts";
import { LoadTestPlayground } from "./playground/load-test.ts";
import { RerankPlayground } from "./playground/rerank.ts";
import { SpeechPlayground } from "./playground/speech.ts";
import { TranscriptionPlayground } from "./playground/transcription.ts";

const TABS = [
  { id: "chat", label: "Chat", component: ChatPlayground },
  { id: "images", label: "Images", component: ImagesPlayground },
  { id: "speech", label: "Speech", component: SpeechPlayground },
  { id: "transcription", label: "Transcription", component: TranscriptionPlayground },
  { id: "rerank", label: "Rerank", component: RerankPlayground },
  { id: "load", label: "Load test", component: LoadTestPlayground },
];

/** The Playground page on tab `tab`. */
export function PlaygroundPage({ tab }: { tab: string }) {
  const current = TABS.find((t) => t.id === tab) ?? TABS[0];
  return html`
    <section class="panel playground" aria-labelledby="playground-title">
      <div class="panel-head"><h1 id="playground-title">Playground</h1></div>
      <${Tabs} label="Playground" current=${current.id} tabs=${TABS.map((t) => ({ id: t.id, label: t.label, route: ["playground", t.id] }))} />
      <div class="tab-body" data-tab=${current.id}><${current.component} /></div>
    </section>
  `;
}
