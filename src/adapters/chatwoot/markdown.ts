/**
 * Chatwoot's dashboard renders every message as Markdown (app/javascript/shared/helpers/MessageFormatter.js:
 * markdown-it with `linkify`, images and tables on, `html: false`): a customer's `![](https://…)` would load an
 * image in the agent's browser, `[Pague aqui](https://…)` would show a disguised link, `**…**` or a line starting
 * with `#` would restyle the text. Everything the bridge writes into Chatwoot goes through `escapeMarkdown` first:
 * the agent reads the customer's text as it was typed (CommonMark: a backslash before ASCII punctuation shows the
 * character itself), and bare URLs stay untouched so linkify still makes them the real links they are.
 */

/** Characters that open Markdown structures anywhere in a line. */
const INLINE = /[\\`*_[\]<~|]|&(?=#?[A-Za-z0-9]+;)/g;
/** Block markers at the start of a line (after at most 3 spaces): headings, quotes, lists, setext underlines. */
const LINE_START = /^( {0,3})([#>+=-]|\d{1,9}[.)])/gm;
/** A bare URL linkify would make a link: nothing in it that Markdown reads (those characters end it). */
const URL = /\b(?:https?:\/\/|www\.)[^\s\\`*[\]<>~|]+/gi;

export function escapeMarkdown(text: string): string {
  let out = '';
  let last = 0;
  for (const match of text.matchAll(URL)) {
    out += escapeInline(text.slice(last, match.index));
    out += match[0];
    last = match.index + match[0].length;
  }
  out += escapeInline(text.slice(last));
  return out.replace(LINE_START, (_all, indent: string, marker: string) =>
    /^\d/.test(marker) ? `${indent}${marker.slice(0, -1)}\\${marker.slice(-1)}` : `${indent}\\${marker}`,
  );
}

function escapeInline(segment: string): string {
  return segment.replace(INLINE, (c) => `\\${c}`);
}
