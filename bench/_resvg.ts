import { readFileSync, writeFileSync } from 'node:fs';
import { renderSvg } from '/work/main/bench/report';
const r = JSON.parse(readFileSync(process.argv[2]!, 'utf8'));
writeFileSync(process.argv[3]!, renderSvg(r));
