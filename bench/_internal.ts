import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2]!, 'utf8'));
const byId = new Map<number, any>(p.nodes.map((n: any) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map<number, number>();
p.samples.forEach((id: number, i: number) => self.set(id, (self.get(id) ?? 0) + p.timeDeltas[i]));
// attribute each sample to the first non-internal frame up the stack
const agg = new Map<string, number>();
for (const [id, us] of self) {
  let at: number | undefined = id;
  let chain: string[] = [];
  while (at !== undefined) {
    const f = byId.get(at).callFrame;
    if (f.url && !f.url.startsWith('node:') ) { chain.push(`${f.functionName}@${f.url.replace(/.*\/(node_modules\/)?/, '')}:${f.lineNumber+1}`); break; }
    chain.push(f.functionName || '(anon)');
    at = parent.get(at);
  }
  const key = chain.length > 4 ? [...chain.slice(0,2), '…', chain[chain.length-1]].join(' < ') : chain.join(' < ');
  agg.set(chain[chain.length-1]!, (agg.get(chain[chain.length-1]!) ?? 0) + us);
}
for (const [k, us] of [...agg].sort((a,b)=>b[1]-a[1]).slice(0, Number(process.argv[3] ?? 25))) console.log((us/1000).toFixed(0).padStart(7), k);
