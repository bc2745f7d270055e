/**
 * Intercom sends conversation part bodies as plain text from API version 2.15 on, and as HTML before
 * (`<p>Olá Maria!</p><p>Segue o <a href="…">comprovante</a>.</p>`). The webhook version is set per app, so the
 * adapter accepts both: `partText` keeps plain text as it is and turns HTML into the text a customer reads on
 * WhatsApp or Messenger. No dependency: Intercom's composer produces a small, well-formed subset of HTML.
 *
 * The other way, every body the bridge writes is HTML to Intercom (issue 17.7): `textToHtml` escapes the text, so
 * a customer's `<a href>`, `<img>` or `<script>` is shown to the agent as the characters they typed, never as live
 * markup in the inbox (least of all in a note written as the bridge's admin).
 */

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text as HTML text content (and safe in a quoted attribute): `& < > " '` escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/**
 * Plain text as an Intercom body: every character escaped, each blank-line-separated block a `<p>`, a line break
 * inside a block a `<br>`. Nothing else: the result has no tag but `<p>`, `</p>` and `<br>`, and it is lossless
 * (`\n\n\n` keeps its third break as a leading `<br>`), so the agent reads exactly what the customer wrote.
 */
export function textToHtml(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .split('\n\n')
    .map((block) => `<p>${block.split('\n').map(escapeHtml).join('<br>')}</p>`)
    .join('');
}

/** Tags Intercom's composer and older API versions produce; one of them marks a body as HTML. */
const HTML_TAG =
  /<\/?(?:p|br|div|span|a|b|strong|i|em|u|s|ul|ol|li|h[1-6]|blockquote|pre|code|img|hr)\b[^>]*>/i;

/** The readable text of a part body: HTML is converted, plain text (2.15+) is only trimmed. */
export function partText(body: string | null | undefined): string {
  if (!body) return '';
  return HTML_TAG.test(body) ? htmlToText(body) : body.trim();
}

const BLOCK = new Set([
  'p',
  'div',
  'ul',
  'ol',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'blockquote',
  'pre',
  'table',
  'tr',
  'hr',
]);

/**
 * HTML to plain text: paragraphs and `<br>` become line breaks, list items start with "- ", a link whose text
 * differs from its address keeps the address in parentheses, an image becomes its address, entities are decoded,
 * scripts, styles and comments are dropped, and runs of whitespace collapse as a browser would.
 */
export function htmlToText(html: string): string {
  const source = html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(script|style|head|title)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, '');
  let out = '';
  const links: Array<{ href: string | undefined; start: number }> = [];
  const atLineStart = () => out === '' || out.endsWith('\n');
  const breakLine = () => {
    out = out.replace(/[ \t]+$/, '');
    if (!atLineStart()) out += '\n';
  };

  const tag = /<(\/?)([a-zA-Z][a-zA-Z0-9]*)\b([^>]*)>/g;
  let last = 0;
  for (let match = tag.exec(source); match; match = tag.exec(source)) {
    appendText(source.slice(last, match.index));
    last = tag.lastIndex;
    const closing = match[1] === '/';
    const name = (match[2] ?? '').toLowerCase();
    const attributes = match[3] ?? '';
    if (name === 'br') {
      out = out.replace(/[ \t]+$/, '') + '\n';
    } else if (name === 'li') {
      breakLine();
      if (!closing) out += '- ';
    } else if (BLOCK.has(name)) {
      breakLine();
    } else if (name === 'a') {
      if (!closing) {
        links.push({ href: attribute(attributes, 'href'), start: out.length });
      } else {
        const link = links.pop();
        const text = link ? out.slice(link.start).trim() : '';
        const href = link?.href?.trim();
        if (href && !href.startsWith('#') && text !== href && `mailto:${text}` !== href) {
          out += text ? ` (${href})` : href;
        }
      }
    } else if (name === 'img' && !closing) {
      const src = attribute(attributes, 'src');
      if (src) {
        if (!atLineStart() && !out.endsWith(' ')) out += ' ';
        out += src;
      }
    }
  }
  appendText(source.slice(last));

  return out
    .split('\n')
    .map((line) => line.replace(/[ \t]+$/, '').replace(/^[ \t]+/, ''))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();

  function appendText(raw: string): void {
    if (raw === '') return;
    // Whitespace in HTML source is one space; &nbsp; is decoded after collapsing, so it survives.
    let text = decodeEntities(raw.replace(/[ \t\r\n\f]+/g, ' '));
    if (atLineStart() || out.endsWith(' ')) text = text.replace(/^ +/, '');
    out += text;
  }
}

function attribute(attributes: string, name: string): string | undefined {
  const match = new RegExp(`\\b${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(attributes);
  const value = match?.[1] ?? match?.[2] ?? match?.[3];
  return value === undefined ? undefined : decodeEntities(value);
}

const NAMED: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  hellip: '…',
  mdash: '—',
  ndash: '–',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  laquo: '«',
  raquo: '»',
  bull: '•',
  middot: '·',
  deg: '°',
  ordm: 'º',
  ordf: 'ª',
  euro: '€',
  pound: '£',
  copy: '©',
  reg: '®',
  trade: '™',
  iexcl: '¡',
  iquest: '¿',
  szlig: 'ß',
};
// Latin letters with accents (Portuguese, Spanish, French…): &aacute; &Atilde; &ccedil; &uuml; …
const ACCENTS: Record<string, string> = {
  acute: '\u0301',
  grave: '\u0300',
  circ: '\u0302',
  tilde: '\u0303',
  uml: '\u0308',
  cedil: '\u0327',
  ring: '\u030a',
};

/** Decodes numeric entities, the common named ones and accented Latin letters; leaves unknown ones as they are. */
export function decodeEntities(text: string): string {
  return text.replace(/&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);/g, (whole, name: string) => {
    if (name.startsWith('#')) {
      const code =
        name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff)
        ? String.fromCodePoint(code)
        : whole;
    }
    const named = NAMED[name] ?? NAMED[name.toLowerCase()];
    if (named !== undefined) return named;
    const accent = /^([a-zA-Z])(acute|grave|circ|tilde|uml|cedil|ring)$/.exec(name);
    if (accent) return `${accent[1]}${ACCENTS[accent[2]!]}`.normalize('NFC');
    return whole;
  });
}
