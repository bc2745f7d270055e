/**
 * Reads a V8 CPU profile (`.cpuprofile`, as written by ./sut.ts or `node --cpu-prof`) and sums self time by
 * function and by area (a file of ours, or an npm package), so the benchmark can say where a process spends its
 * CPU. `npx tsx bench/profile.ts FILE [TOP]` prints both tables.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled time (ms), idle excluded. */
  busyMs: number;
  idleMs: number;
  byArea: Array<{ area: string; ms: number; share: number }>;
  byFunction: Array<{ fn: string; ms: number; share: number }>;
  /** Time (ms) with a frame of these files anywhere on the stack (inclusive). */
  inclusive: Array<{ area: string; ms: number; share: number }>;
}

const ROOT = path.resolve(__dirname, '..');
const BUILT = '/node_modules/.cache/bhb-bench/';

/** `src/core/work/runner.ts`, `npm:@redis/client`, `node:internal`, `(gc)`, `(program)`. */
export function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const file = url.startsWith('file://') ? url.slice('file://'.length) : url;
  // The compiled system under test (./build.ts): named by its source file.
  const built = file.indexOf(BUILT);
  if (built >= 0) return file.slice(built + BUILT.length).replace(/\.js$/, '.ts');
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = file.slice(nm + '/node_modules/'.length).split('/');
    return `npm:${parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]}`;
  }
  if (file.startsWith('node:')) return file.startsWith('node:internal') ? 'node:internal' : file;
  return path.relative(ROOT, file) || file;
}

export function summariseProfile(file: string, top = 15, inclusiveAreas: string[] = []): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const fn = `${functionName || '(anonymous)'} ${area}${url ? `:${lineNumber + 1}` : ''}`;
    fns.set(fn, (fns.get(fn) ?? 0) + us);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      const a = areaOf(frame.url, frame.functionName);
      if (inclusiveAreas.includes(a) && !seen.has(a)) {
        seen.add(a);
        inclusive.set(a, (inclusive.get(a) ?? 0) + us);
      }
    }
  }
  const table = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, us]) => ({
        key,
        ms: Math.round(us / 100) / 10,
        share: Math.round((us / busyUs) * 1000) / 10,
      }));
  return {
    busyMs: Math.round(busyUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    byArea: table(areas, top).map(({ key, ...rest }) => ({ area: key, ...rest })),
    byFunction: table(fns, top).map(({ key, ...rest }) => ({ fn: key, ...rest })),
    inclusive: table(inclusive, inclusiveAreas.length).map(({ key, ...rest }) => ({ area: key, ...rest })),
  };
}

if (require.main === module) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: tsx bench/profile.ts FILE.cpuprofile [TOP]\n');
    process.exit(2);
  }
  const summary = summariseProfile(file, Number(top ?? 25), [
    'src/core/work/runner.ts',
    'src/core/work/intake.ts',
    'src/core/handoff/customer-message.ts',
    'src/core/handoff/helpdesk-event.ts',
    'src/core/vendor-gateway.ts',
    'src/state/redis-work-queue.ts',
    'src/state/keyv-conversation-store.ts',
    'src/blip/inbound.ts',
    'src/http/server.ts',
    'npm:@redis/client',
    'npm:keyv',
    'npm:winston',
    'npm:zod',
    'npm:blip-sdk',
    'npm:axios',
  ]);
  process.stdout.write(`busy ${summary.busyMs} ms, idle ${summary.idleMs} ms\n\nself time by area:\n`);
  for (const a of summary.byArea)
    process.stdout.write(`${String(a.ms).padStart(9)} ms ${String(a.share).padStart(5)}%  ${a.area}\n`);
  process.stdout.write('\nself time by function:\n');
  for (const f of summary.byFunction)
    process.stdout.write(`${String(f.ms).padStart(9)} ms ${String(f.share).padStart(5)}%  ${f.fn}\n`);
  process.stdout.write('\ninclusive (on the stack):\n');
  for (const a of summary.inclusive)
    process.stdout.write(`${String(a.ms).padStart(9)} ms ${String(a.share).padStart(5)}%  ${a.area}\n`);
}
