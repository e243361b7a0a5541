/**
 * A modal dialog on the browser's own `<dialog>`: focus moves into it and
 * back, Escape closes it, the page behind is inert.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { html } from "../lib/html.ts";

/** Props of {@link Dialog}. */
export interface DialogProps {
  title: string;
  onClose(): void;
  children: ComponentChildren;
  wide?: boolean;
}

/** A dialog shown while it is rendered. */
export function Dialog({ title, onClose, children, wide = false }: DialogProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current!;
    element.showModal();
    return () => element.close();
  }, []);
  return html`
    <dialog ref=${dialog} class=${`dialog${wide ? " dialog-wide" : ""}`} onClose=${onClose} aria-label=${title}>
      <div class="dialog-head">
        <h2>${title}</h2>
        <button type="button" class="btn btn-quiet btn-small" onClick=${onClose} aria-label="Close">✕</button>
      </div>
      <div class="dialog-body">${children}</div>
    </dialog>
  `;
}
