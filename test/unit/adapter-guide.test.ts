/**
 * docs/adding-an-adapter.md stays in step with the contract (issue 19.3): every member of `HelpdeskAdapter` and
 * `WebhookHandler`, every helpdesk event kind, every `ClosedBy` value and every webhook verification kind in the
 * code is named in the guide. A member added to the contract without a word in the guide fails here.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');
const guide = read('docs/adding-an-adapter.md');
const contract = read('src/adapters/adapter.ts');
const model = read('src/core/model.ts');

/** The member names of one `export interface Name {…}` block (comments skipped). */
function members(source: string, name: string): string[] {
  const start = source.search(new RegExp(`export interface ${name}\\b[^{]*\\{\\n`));
  expect(start).toBeGreaterThanOrEqual(0);
  const block = source.slice(start, source.indexOf('\n}', start));
  return [...block.matchAll(/^ {2}(?:readonly )?(\w+)\??[(:<]/gm)].map((m) => m[1]!);
}

describe('the adding-an-adapter guide', () => {
  it.each(['HelpdeskAdapter', 'WebhookHandler', 'AdapterModule'])('names every member of %s', (name) => {
    const names = members(contract, name);
    expect(names.length).toBeGreaterThan(2);
    expect(names.filter((m) => !guide.includes(m))).toEqual([]);
  });

  it('names every helpdesk event kind, close origin and verification kind', () => {
    const kinds = [...model.matchAll(/kind: '([\w.]+)'/g)].map((m) => m[1]!);
    const closedBy = /export type ClosedBy = ([^;]+);/
      .exec(model)![1]!
      .match(/'(\w+)'/g)!
      .map((s) => s.slice(1, -1));
    const auth = [...contract.matchAll(/\{ kind: '([\w-]+)'/g)].map((m) => m[1]!);
    expect(kinds).toEqual([
      'agent.message',
      'ticket.assigned',
      'ticket.transferred',
      'ticket.closed',
      'ticket.queued',
      'agent.unavailable',
      'agent.typing',
      'agent.read',
    ]);
    expect(auth).toHaveLength(4);
    expect([...kinds, ...closedBy, ...auth].filter((k) => !guide.includes(`\`${k}\``))).toEqual([]);
  });

  it('names every field of the types an adapter receives', () => {
    for (const type of ['OpenTicketRequest', 'ChatMessage', 'TicketRef', 'CustomerRef', 'Attachment']) {
      expect([type, members(model, type).filter((m) => !guide.includes(`\`${m}`))]).toEqual([type, []]);
    }
  });
});
