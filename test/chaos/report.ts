/** The figures of a chaos run as a table, and the "Latest run" section of docs/reliability.md. */
import { readFile, writeFile } from 'node:fs/promises';
import type { ChaosReport } from './driver';

const START = '<!-- chaos:latest:start -->';
const END = '<!-- chaos:latest:end -->';

function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Rows of (figure, value) in the order a reader wants them. */
export function figures(report: ChaosReport): Array<[string, string]> {
  const { verdict: v, options: o } = report;
  const faults = Object.entries(report.faults)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${kind} ×${n}`)
    .join(', ');
  const calls = Object.entries(report.faultedCalls)
    .map(([kind, n]) => `${kind}: ${n}`)
    .join(', ');
  return [
    ['customers', `${v.customers} (${o.processes} bridge processes)`],
    ['customer → helpdesk messages', `${v.toHelpdesk.delivered}/${v.toHelpdesk.expected} delivered`],
    [
      '  comments',
      `${v.toHelpdesk.comments} (${v.toHelpdesk.coalescedComments} coalesced, holding ${v.toHelpdesk.coalescedMessages} messages)`,
    ],
    ['agent → customer replies', `${v.toCustomer.delivered}/${v.toCustomer.expected} delivered`],
    ['tickets', `${v.tickets.opened} opened, ${v.tickets.notClosed} not closed`],
    ['Redirects', `${v.redirects.sent}/${v.redirects.expected}`],
    ['faults injected', faults || 'none'],
    ['vendor calls answered by a fault', calls || 'none'],
    ['vendor API calls', String(report.apiCalls)],
    ['customer resends (no `received` in time)', String(report.resends)],
    ['messages held while no bot session', String(report.heldWithoutSession)],
    ['webhook redeliveries (not 2xx)', String(report.webhookRedeliveries)],
    [
      'webhook proxy failovers / unanswered',
      `${report.proxy.failovers} / ${report.proxy.unanswered} (${
        Object.entries(report.proxy.errors)
          .map(([code, n]) => `${code} ${n}`)
          .join(', ') || 'no upstream errors'
      })`,
    ],
    [
      'sent again with the same LIME id',
      `${v.toCustomer.sameIdResends} replies, ${v.redirects.sameIdResends} Redirects${o.strictIds ? ' (counted as duplicates)' : ''}`,
    ],
    ['LOST', String(v.toHelpdesk.lost + v.toCustomer.lost + v.redirects.missing + v.closingTexts.missing)],
    [
      'DUPLICATED',
      String(
        v.toHelpdesk.duplicated +
          v.toCustomer.duplicated +
          v.redirects.duplicated +
          v.closingTexts.duplicated +
          v.tickets.customersWithExtraTickets,
      ),
    ],
    [
      '  customer messages posted twice, why',
      Object.entries(report.duplicateCauses)
        .filter(([, n]) => n > 0)
        .map(([cause, n]) => `${cause}: ${n}`)
        .join(', ') +
        (report.duplicates.some((d) => d.via === 'open')
          ? ` (${report.duplicates.filter((d) => d.via === 'open').length} first message(s) again after the open)`
          : '') || 'none',
    ],
    ['REORDERED', String(v.toHelpdesk.reordered + v.toCustomer.reordered + v.redirects.afterRedirect)],
    [
      'misrouted (wrong ticket / customer)',
      String(v.toHelpdesk.foreign + v.toCustomer.foreign + v.redirects.wrongTicket),
    ],
    ['dead letters / left in queue', `${v.deadLetters.length} / ${v.queued}`],
    [
      'end-to-end delay → helpdesk',
      `max ${seconds(report.latency.toHelpdesk.maxMs)}, p99 ${seconds(report.latency.toHelpdesk.p99Ms)}, p50 ${seconds(report.latency.toHelpdesk.p50Ms)}`,
    ],
    [
      'end-to-end delay → customer',
      `max ${seconds(report.latency.toCustomer.maxMs)}, p99 ${seconds(report.latency.toCustomer.p99Ms)}, p50 ${seconds(report.latency.toCustomer.p50Ms)}`,
    ],
    ['bridge exit codes on SIGTERM', report.exitCodes.map(String).join(', ')],
    [
      'machine',
      `${report.machine.cpus} cores, load average ${report.machine.load.map((l) => l.toFixed(1)).join(' → ')}; ` +
        `driver event-loop delay p99 ${seconds(report.machine.driverLagMs.p99)}, max ${seconds(report.machine.driverLagMs.max)}`,
    ],
    [
      'wall time',
      `${report.wallSeconds.toFixed(0)} s (load ${report.loadSeconds.toFixed(0)} s, settle ${report.settleSeconds.toFixed(0)} s)`,
    ],
    ['result', report.verdict.ok && report.driverProblems.length === 0 ? 'PASS' : 'FAIL'],
  ];
}

/** Every problem but the duplicate comments (those are listed traced, see tracedDuplicates). */
function otherProblems(report: ChaosReport): string[] {
  return [
    ...report.driverProblems,
    ...report.verdict.problems.filter((p) => !/^[^:]+: messages to the ticket: \d+ duplicated \[/.test(p)),
  ];
}

/** One line per traced duplicate: the message, its ticket, and why it was posted again. */
function tracedDuplicates(report: ChaosReport, max: number): string[] {
  const lines = report.duplicates
    .slice(0, max)
    .map(
      (d) =>
        `"${d.text}" on ticket ${d.ticket}: ${d.cause}` +
        `${d.via === 'open' ? ' (first applied by the ticket creation)' : ''}${d.call ? ` [call ${d.call}]` : ''}`,
    );
  if (report.duplicates.length > max) lines.push(`… and ${report.duplicates.length - max} more`);
  return lines;
}

export function formatTable(report: ChaosReport): string {
  const rows = figures(report);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, val]) => `${k.padEnd(width)}  ${val}`);
  const others = otherProblems(report);
  if (others.length > 0) {
    lines.push('', `problems other than duplicate comments (${others.length}):`);
    lines.push(...others.slice(0, 40).map((p) => `  - ${p}`));
    if (others.length > 40) lines.push(`  … and ${others.length - 40} more`);
  }
  if (report.duplicates.length > 0) {
    lines.push('', 'duplicates, traced to the call that had applied them already:');
    lines.push(...tracedDuplicates(report, 40).map((l) => `  - ${l}`));
  }
  const top = report.logCodes.slice(0, 12);
  if (top.length > 0) {
    lines.push('', 'bridge log lines (warn/error) by code:');
    lines.push(...top.map((c) => `  ${String(c.count).padStart(6)}  ${c.key}`));
  }
  lines.push('', `logs: ${report.logDir}`);
  return lines.join('\n');
}

/** The Markdown of the "Latest run" section. */
export function latestRunMarkdown(report: ChaosReport): string {
  const o = report.options;
  const m = report.machine;
  const command =
    `npm run test:chaos -- --customers ${o.customers} --messages ${o.messages} --replies ${o.replies} ` +
    `--processes ${o.processes} --kills ${o.kills} --duration-seconds ${o.durationSeconds} --seed ${o.seed}`;
  const rows = figures(report)
    .map(([k, v]) => `| ${k.trim()} | ${v.replace(/\|/g, '\\|')} |`)
    .join('\n');
  const others = otherProblems(report);
  return [
    `Run on ${report.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${m.cpus} cores (${m.cpuModel}), Node ${m.node}, ` +
      `${m.platform}; load average ${m.load[0].toFixed(1)} at the start, ${m.load[1].toFixed(1)} at the end:`,
    '',
    '```sh',
    command,
    '```',
    '',
    '| figure | value |',
    '| --- | --- |',
    rows,
    ...(others.length
      ? ['', 'Problems other than duplicate comments:', '', ...others.slice(0, 20).map((p) => `- ${p}`)]
      : []),
    ...(others.length > 20 ? [`- … and ${others.length - 20} more`] : []),
    ...(report.duplicates.length
      ? ['', 'Duplicate comments, each traced to a call the vendor applied unbeknown to the bridge:', '']
      : []),
    ...tracedDuplicates(report, 10).map((l) => `- ${l}`),
  ].join('\n');
}

/** Replaces the "Latest run" section of `docPath` (between the chaos markers) with this run's figures. */
export async function writeLatestRun(docPath: string, report: ChaosReport): Promise<void> {
  const doc = await readFile(docPath, 'utf8');
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${docPath} has no ${START} … ${END} section`);
  const updated = `${doc.slice(0, start + START.length)}\n${latestRunMarkdown(report)}\n${doc.slice(end)}`;
  await writeFile(docPath, updated);
}
