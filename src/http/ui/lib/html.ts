/**
 * Components are Preact function components written with `htm` tagged
 * templates: HTML-like markup checked by the browser, no JSX build step.
 */
import htm from "htm";
import { h, type VNode } from "preact";

/** `html\`<div class=${name}>…</div>\`` → a Preact element. */
export const html: (strings: TemplateStringsArray, ...values: unknown[]) => VNode = htm.bind(h) as never;
