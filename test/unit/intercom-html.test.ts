import fc from 'fast-check';
import { appliedReply } from '../../src/adapters/intercom';
import {
  decodeEntities,
  escapeHtml,
  htmlToText,
  partText,
  textToHtml,
} from '../../src/adapters/intercom/html';
import { agentText } from '../../src/adapters/intercom/emulator';

describe('htmlToText', () => {
  it.each([
    ['one paragraph', '<p>Olá Maria!</p>', 'Olá Maria!'],
    ['paragraphs become lines', '<p>Olá Maria!</p><p>Seu pedido saiu.</p>', 'Olá Maria!\nSeu pedido saiu.'],
    ['source newlines between paragraphs do not add blank lines', '<p>a</p>\n  <p>b</p>\n', 'a\nb'],
    ['<br> variants', 'um<br>dois<br/>três<BR />quatro', 'um\ndois\ntrês\nquatro'],
    ['an empty paragraph with <br> is a blank line', '<p>a</p><p><br></p><p>b</p>', 'a\n\nb'],
    ['no more than one blank line', '<p>a</p><br><br><br><br><p>b</p>', 'a\n\nb'],
    ['whitespace collapses like in a browser', '<p>  muito   \n espaço\t aqui </p>', 'muito espaço aqui'],
    [
      'inline tags vanish',
      '<p>Pedido <b>88231</b> <i>entregue</i> <span class="x">hoje</span></p>',
      'Pedido 88231 entregue hoje',
    ],
    [
      'entities',
      '<p>9h &amp; 18h &lt;urgente&gt; &quot;ok&quot; &#39;sim&#39; R&#36; 10</p>',
      '9h & 18h <urgente> "ok" \'sim\' R$ 10',
    ],
    [
      'accented entities',
      '<p>Ol&aacute;, voc&ecirc; est&aacute; na fila &ndash; aten&ccedil;&atilde;o</p>',
      'Olá, você está na fila – atenção',
    ],
    ['numeric entities', '<p>&#233; &#xE9; &#x1F600;</p>', 'é é 😀'],
    ['&nbsp; is a space', '<p>a&nbsp;b</p>', 'a b'],
    [
      'a link keeps its address',
      '<p>Veja <a href="https://acme.example/x?a=1&amp;b=2">aqui</a>.</p>',
      'Veja aqui (https://acme.example/x?a=1&b=2).',
    ],
    [
      'a link whose text is its address',
      '<a href="https://acme.example" target="_blank">https://acme.example</a>',
      'https://acme.example',
    ],
    ['a mailto link', '<a href="mailto:sac@acme.example">sac@acme.example</a>', 'sac@acme.example'],
    [
      'a link without text',
      'doc: <a href="https://acme.example/doc.pdf"></a>',
      'doc: https://acme.example/doc.pdf',
    ],
    [
      'an image becomes its address',
      '<p>foto:</p><div class="intercom-container"><img src="https://downloads.intercomcdn.com/i/o/1/a.png"></div>',
      'foto:\nhttps://downloads.intercomcdn.com/i/o/1/a.png',
    ],
    ['lists', '<ul><li>um</li><li>dois</li></ul><p>fim</p>', '- um\n- dois\nfim'],
    [
      'headings and quotes are blocks',
      '<h2>Título</h2><blockquote>citação</blockquote>texto',
      'Título\ncitação\ntexto',
    ],
    [
      'scripts, styles and comments are dropped',
      '<style>p{}</style><p>a<!-- x --></p><script>alert(1)</script>',
      'a',
    ],
    ['unknown entities stay as they are', '<p>&foo; &amp</p>', '&foo; &amp'],
    ['text outside tags', 'antes<p>meio</p>depois', 'antes\nmeio\ndepois'],
  ])('%s', (_what, html, text) => {
    expect(htmlToText(html)).toBe(text);
  });
});

describe('partText', () => {
  it('keeps a 2.15 plain-text body as it is (trimmed), even with characters HTML would treat specially', () => {
    expect(partText('  a < b & c > d\n\nnova linha  ')).toBe('a < b & c > d\n\nnova linha');
    expect(partText('R&amp;D')).toBe('R&amp;D');
  });

  it('converts a body that carries HTML tags', () => {
    expect(partText('<p>Olá</p><p>Maria</p>')).toBe('Olá\nMaria');
  });

  it('gives an empty string for null, undefined and empty bodies', () => {
    expect(partText(null)).toBe('');
    expect(partText(undefined)).toBe('');
    expect(partText('')).toBe('');
    expect(partText('<p></p>')).toBe('');
  });
});

describe('decodeEntities', () => {
  it('decodes upper-case accented letters and leaves invalid code points', () => {
    expect(decodeEntities('&Aacute;&Ccedil;&Otilde;&Uuml;')).toBe('ÁÇÕÜ');
    expect(decodeEntities('&#0; &#xD800; &#1114112;')).toBe('&#0; &#xD800; &#1114112;');
  });
});

describe('textToHtml (issue 17.7: what the bridge writes into Intercom bodies)', () => {
  it.each([
    ['plain text', 'Olá Maria', '<p>Olá Maria</p>'],
    [
      'a link',
      '<a href="https://evil.example">x</a>',
      '<p>&lt;a href=&quot;https://evil.example&quot;&gt;x&lt;/a&gt;</p>',
    ],
    ['a pixel', '<img src=https://t.example/p.gif>', '<p>&lt;img src=https://t.example/p.gif&gt;</p>'],
    ['a script', "<script>alert('x')</script>", '<p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</p>'],
    ['an entity the customer typed stays text', '&lt; &amp;', '<p>&amp;lt; &amp;amp;</p>'],
    ['line breaks', 'a\nb', '<p>a<br>b</p>'],
    ['paragraphs', 'a\n\nb', '<p>a</p><p>b</p>'],
    ['CRLF', 'a\r\nb\r\n\r\nc', '<p>a<br>b</p><p>c</p>'],
    ['three breaks keep the third', 'a\n\n\nb', '<p>a</p><p><br>b</p>'],
  ])('%s', (_what, text, html) => {
    expect(textToHtml(text)).toBe(html);
  });

  it('never produces a tag but <p>, </p> and <br>, and reads back as the text (any input)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: fc.constantFrom('<', '>', '&', '"', "'", 'a', '\n', ';', '#', '/') }),
        ),
        (text) => {
          const html = textToHtml(text);
          const tags = html.match(/<[^>]*>/g) ?? [];
          expect(tags.filter((t) => !['<p>', '</p>', '<br>'].includes(t))).toEqual([]);
          expect(agentText(html)).toBe(text.replace(/\r\n?/g, '\n'));
          expect(decodeEntities(escapeHtml(text))).toBe(text);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('appliedReply with a text that looks like markup', () => {
  const message = { id: 'm1', text: 'veja <b>isto</b> & aquilo', at: '2026-11-03T14:00:00Z' };
  const part = (body: string) => ({
    type: 'conversation_part',
    id: 'p1',
    part_type: 'comment',
    body,
    created_at: Date.parse(message.at) / 1000 + 1,
    author: { type: 'user', id: 'c1' },
  });
  it.each([
    ['as plain text (display_as=plaintext)', message.text],
    ['as the HTML the bridge sent', textToHtml(message.text)],
  ])('finds the earlier try when Intercom shows the part %s', (_how, body) => {
    expect(appliedReply([part(body)] as never, 'c1', message)).toBeDefined();
  });

  it('does not take another text for it', () => {
    expect(appliedReply([part(textToHtml('veja isto & aquilo!'))] as never, 'c1', message)).toBeUndefined();
  });
});
