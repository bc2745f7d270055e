/**
 * `npm run test:chaos [-- --customers 300 --messages 10 ...]`: the fault-injection run (see ./driver.ts and
 * docs/reliability.md). Prints the figures, rewrites the "Latest run" section of docs/reliability.md (unless
 * `--no-write-doc`), and exits 1 on any loss, duplicate, reordering, dead letter or driver failure.
 */
import path from 'node:path';
import { runChaos } from './driver';
import { CHAOS_USAGE, parseChaosOptions } from './options';
import { formatTable, writeLatestRun } from './report';

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(CHAOS_USAGE);
    return 0;
  }
  let options;
  try {
    options = parseChaosOptions(argv);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 2;
  }
  const started = Date.now();
  const say = (line: string): void => {
    if (options.verbose) console.error(`[chaos +${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`);
  };
  const report = await runChaos(options, say);
  console.log(formatTable(report));
  if (options.writeDoc) {
    const doc = path.resolve(__dirname, '../../docs/reliability.md');
    await writeLatestRun(doc, report);
    console.log(`figures written to ${path.relative(process.cwd(), doc)}`);
  }
  return report.verdict.ok && report.driverProblems.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('chaos run failed:', err);
    process.exit(1);
  },
);
