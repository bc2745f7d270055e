import { readFileSync } from 'node:fs';
const [file, name, depthArg] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file!, 'utf8'));
const byId = new Map<number, any>(p.nodes.map((n: any) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map<number, number>();
p.samples.forEach((id: number, i: number) => self.set(id, (self.get(id) ?? 0) + p.timeDeltas[i]));
const agg = new Map<string, number>();
const depth = Number(depthArg ?? 6);
for (const [id, us] of self) {
  const f = byId.get(id).callFrame;
  if (f.functionName !== name) continue;
  const chain: string[] = [];
  for (let at = parent.get(id); at !== undefined && chain.length < depth; at = parent.get(at)) {
    const cf = byId.get(at).callFrame;
    chain.push(`${cf.functionName || '(anon)'}@${cf.url.replace(/.*\/(node_modules\/)?/, '')}`);
  }
  const key = chain.join(' < ');
  agg.set(key, (agg.get(key) ?? 0) + us);
}
for (const [k, us] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log((us / 1000).toFixed(0).padStart(6), k);
