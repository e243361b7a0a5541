/**
 * Markdown in the playground's answers: `marked` splits the text into
 * tokens and this file turns them into Preact elements. No HTML string is
 * ever parsed, so a model's answer cannot run script in the dashboard
 * (which holds the API key): raw HTML shows as text, links open only for
 * http(s) and mailto, and images become links (nothing is fetched from
 * elsewhere on its own).
 */
import { lexer, type Token, type Tokens } from "marked";
import { type ComponentChild, type ComponentChildren, h } from "preact";

const SAFE_LINK = /^(https?:|mailto:)/i;

/** Markdown text → elements (GitHub-flavoured: tables, strikethrough, task lists). */
export function renderMarkdown(text: string): ComponentChild[] {
  return blocks(lexer(text, { gfm: true }));
}

function blocks(tokens: Token[]): ComponentChild[] {
  return tokens.map(block).filter((node) => node !== null);
}

function block(token: Token): ComponentChild {
  const t = token as Tokens.Generic;
  switch (token.type) {
    case "space":
    case "def":
      return null;
    case "paragraph":
      return h("p", null, inline((token as Tokens.Paragraph).tokens));
    case "heading": {
      const heading = token as Tokens.Heading;
      return h(`h${Math.min(6, heading.depth + 2)}`, { class: "md-heading" }, inline(heading.tokens));
    }
    case "code": {
      const code = token as Tokens.Code;
      return h("pre", { class: "md-code", "data-lang": code.lang || undefined }, h("code", null, code.text));
    }
    case "blockquote":
      return h("blockquote", null, blocks((token as Tokens.Blockquote).tokens));
    case "hr":
      return h("hr", null);
    case "list": {
      const list = token as Tokens.List;
      const items = list.items.map((item) =>
        h("li", null, item.task ? h("input", { type: "checkbox", checked: item.checked, disabled: true }) : null, listItem(item))
      );
      return list.ordered ? h("ol", { start: list.start === "" ? undefined : list.start }, items) : h("ul", null, items);
    }
    case "table": {
      const table = token as Tokens.Table;
      const cell = (tag: "th" | "td", c: Tokens.TableCell) => h(tag, { style: c.align ? `text-align:${c.align}` : undefined }, inline(c.tokens));
      return h(
        "div",
        { class: "md-table" },
        h("table", null, h("thead", null, h("tr", null, table.header.map((c) => cell("th", c)))), h("tbody", null, table.rows.map((row) => h("tr", null, row.map((c) => cell("td", c)))))),
      );
    }
    case "text":
      return h("p", null, t.tokens ? inline(t.tokens) : t.text);
    default:
      // Raw HTML blocks and anything unknown: shown as the text it is.
      return h("p", null, t.raw ?? "");
  }
}

/** A list item: tight items hold bare text, loose ones paragraphs. */
function listItem(item: Tokens.ListItem): ComponentChildren {
  return item.tokens.map((token) => {
    if (token.type === "text") {
      const text = token as Tokens.Text;
      return text.tokens ? inline(text.tokens) : text.text;
    }
    return block(token);
  });
}

function inline(tokens: Token[] | undefined): ComponentChildren[] {
  return (tokens ?? []).map((token) => {
    const t = token as Tokens.Generic;
    switch (token.type) {
      case "strong":
        return h("strong", null, inline(t.tokens));
      case "em":
        return h("em", null, inline(t.tokens));
      case "del":
        return h("del", null, inline(t.tokens));
      case "codespan":
        return h("code", null, t.text);
      case "br":
        return h("br", null);
      case "link":
      case "image": {
        const { href, text } = token as Tokens.Link | Tokens.Image;
        const label = token.type === "link" ? inline(t.tokens) : `image: ${text || href}`;
        return SAFE_LINK.test(href) ? h("a", { href, target: "_blank", rel: "noopener noreferrer" }, label) : label;
      }
      case "text":
        return t.tokens ? inline(t.tokens) : t.text;
      case "escape":
        return t.text;
      default:
        // Inline HTML and anything unknown: the text as written.
        return t.raw ?? t.text ?? "";
    }
  });
}
