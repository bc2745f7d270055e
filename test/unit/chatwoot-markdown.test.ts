/**
 * What the bridge writes into Chatwoot is shown, never rendered: the dashboard renders message content as Markdown
 * (MessageFormatter.js: markdown-it, images, links, tables, linkify), so a customer's text is escaped
 * (src/adapters/chatwoot/markdown.ts) and the agent reads it as typed (the emulator's `readAsAgent`).
 */
import { escapeMarkdown } from '../../src/adapters/chatwoot/markdown';
import { liveMarkdown, readAsAgent } from '../../src/adapters/chatwoot/emulator';
import fc from 'fast-check';

describe('chatwoot: customer text as Markdown that shows the text', () => {
  it.each([
    ['an image that would load in the agent browser', '![x](https://tracker.example/p.png)'],
    ['a disguised link', '[Pague aqui](https://evil.example/boleto)'],
    ['emphasis, code and strikethrough', '**urgente** _agora_ `rm -rf` ~~não~~'],
    ['block markers at line starts', '# Título\n> citação\n- item\n+ item\n1. um\n10) dez\n==='],
    ['a table', '| a | b |\n|---|---|'],
    ['an autolink and HTML', '<https://evil.example> <script>alert(1)</script>'],
    ['an entity and backslashes', 'Tom &amp; Jerry \\*not bold\\* C:\\temp'],
  ])('escapes %s, and the agent reads the text as typed', (_what, text) => {
    const written = escapeMarkdown(text);
    expect(liveMarkdown(text).length).toBeGreaterThan(0);
    expect(liveMarkdown(written)).toEqual([]);
    expect(readAsAgent(written)).toBe(text);
  });

  it('leaves plain text and bare URLs as they are (linkify keeps making them the real links)', () => {
    for (const text of [
      'Meu boleto veio com o valor errado: R$ 89,90.',
      'veja https://acme.example/segunda_via?id=1&x=2 por favor',
      'www.acme.com.br/minha_conta',
    ]) {
      expect(escapeMarkdown(text)).toBe(text);
    }
  });

  it('round-trips any text, with nothing left live', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-ascii', maxLength: 80 }), (text) => {
        const written = escapeMarkdown(text);
        return readAsAgent(written) === text && liveMarkdown(written).length === 0;
      }),
      { numRuns: 500 },
    );
  });
});
