import { NO_VALUE, type AggregateRow, type Aggregates } from './aggregates';
import type { SessionRow } from './schema';
import { localDateTime } from './time';

/**
 * The report page (`GET /reports`): server-rendered HTML with inline SVG charts of the aggregates and a table of
 * recent sessions. No script, no external resource (the page's Content-Security-Policy forbids both), so it works
 * offline and cannot be made to run anything by a customer's name. Every bar carries `data-key` and `data-value`:
 * what it shows, for tests and for anyone reading the markup.
 */

export interface PageInput {
  aggregates: Aggregates;
  recent: SessionRow[];
  /** The range as typed (date-only values), for the form. */
  form: { from: string; to: string };
  generatedAt: string;
}

export const PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const COLORS = { sessions: '#2563eb', expired: '#dc2626', avg: '#0d9488', p90: '#f59e0b', handle: '#7c3aed' };

export function renderReportPage(input: PageInput): string {
  const { aggregates: a, recent } = input;
  const days = a.groups.day;
  const t = a.totals;
  const query = `from=${encodeURIComponent(a.from)}&to=${encodeURIComponent(a.to)}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Attendance sessions — blip-helpdesk-bridge</title>
<style>
  :root { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #0f172a; background: #f8fafc; }
  body { margin: 0 auto; max-width: 1180px; padding: 24px; }
  h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 0 0 8px; }
  .muted { color: #64748b; font-size: 13px; }
  form { display: flex; gap: 12px; align-items: end; margin: 16px 0; flex-wrap: wrap; }
  label { font-size: 13px; display: flex; flex-direction: column; gap: 4px; }
  input, button { font: inherit; padding: 6px 8px; border: 1px solid #cbd5e1; border-radius: 6px; background: #fff; }
  button { background: #2563eb; color: #fff; border-color: #2563eb; cursor: pointer; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin-bottom: 16px; }
  .card, .panel { background: #fff; border: 1px solid #e2e8f0; border-radius: 10px; padding: 12px 14px; }
  .card b { display: block; font-size: 22px; margin-top: 4px; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; margin-bottom: 16px; }
  svg { width: 100%; height: auto; display: block; }
  svg text { font-size: 11px; fill: #475569; }
  .legend span { display: inline-flex; align-items: center; gap: 4px; margin-right: 12px; font-size: 12px; }
  .legend i { width: 10px; height: 10px; border-radius: 2px; display: inline-block; }
  table { width: 100%; border-collapse: collapse; font-size: 13px; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e2e8f0; white-space: nowrap; }
  th { color: #475569; font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .pill { padding: 1px 8px; border-radius: 999px; font-size: 12px; background: #e2e8f0; }
  .pill.expired { background: #fee2e2; } .pill.open { background: #dbeafe; }
</style>
</head>
<body>
<h1>Attendance sessions</h1>
<div class="muted">${esc(a.from)} to ${esc(a.to)} · days in ${esc(a.timezone)} · generated ${esc(input.generatedAt)} · column schema sessions/v1</div>
<form method="get" action="/reports">
  <label>From <input type="date" name="from" value="${esc(input.form.from)}"></label>
  <label>To (inclusive) <input type="date" name="to" value="${esc(input.form.to)}"></label>
  <button type="submit">Show</button>
  <span class="muted">Download: <a href="/reports/sessions?${esc(query)}&amp;format=csv">CSV</a> ·
  <a href="/reports/sessions?${esc(query)}&amp;format=ndjson">NDJSON</a> ·
  <a href="/reports/aggregates?${esc(query)}">aggregates (JSON)</a></span>
</form>
<div class="cards" id="totals">
  ${card('Sessions', String(t.sessions), 'sessions')}
  ${card('Answered', String(t.answered), 'answered')}
  ${card('Average wait', duration(t.avg_wait_seconds), 'avg-wait')}
  ${card('p90 wait', duration(t.p90_wait_seconds), 'p90-wait')}
  ${card('Average handle time', duration(t.avg_handle_seconds), 'avg-handle')}
  ${card('Expired', percent(t.expired_share), 'expired-share')}
  ${card('Satisfaction', t.avg_rating === null ? '—' : `${t.avg_rating.toFixed(1)} / 5 (${t.rated} rated)`, 'avg-rating')}
</div>
<div class="grid">
  <div class="panel"><h2>Sessions per day</h2>
    ${legend([
      ['sessions', COLORS.sessions],
      ['expired', COLORS.expired],
    ])}
    ${columnChart(
      'sessions-per-day',
      'Sessions per day',
      days,
      [
        { name: 'sessions', color: COLORS.sessions, value: (r) => r.sessions },
        { name: 'expired', color: COLORS.expired, value: (r) => r.expired },
      ],
      (n) => String(n),
      true,
    )}
  </div>
  <div class="panel"><h2>Waiting time per day</h2>
    ${legend([
      ['average', COLORS.avg],
      ['p90', COLORS.p90],
    ])}
    ${columnChart(
      'wait-per-day',
      'Waiting time per day',
      days,
      [
        { name: 'avg_wait_seconds', color: COLORS.avg, value: (r) => r.avg_wait_seconds },
        { name: 'p90_wait_seconds', color: COLORS.p90, value: (r) => r.p90_wait_seconds },
      ],
      compactDuration,
    )}
  </div>
  <div class="panel"><h2>Sessions by agent</h2><div class="muted">bar: sessions · right: average handle time</div>
    ${barChart(
      'sessions-by-agent',
      'Sessions by agent',
      a.groups.agent,
      (r) => r.label ?? r.key,
      (r) => duration(r.avg_handle_seconds),
    )}
  </div>
  <div class="panel"><h2>Sessions by close reason</h2><div class="muted">right: expired share</div>
    ${barChart(
      'sessions-by-close-reason',
      'Sessions by close reason',
      a.groups.close_reason,
      (r) => r.key,
      (r) => percent(r.expired_share),
    )}
  </div>
  <div class="panel"><h2>Sessions by team</h2><div class="muted">right: average wait</div>
    ${barChart(
      'sessions-by-team',
      'Sessions by team',
      a.groups.team,
      (r) => r.key,
      (r) => duration(r.avg_wait_seconds),
    )}
  </div>
  <div class="panel"><h2>Sessions by helpdesk</h2><div class="muted">right: p90 wait</div>
    ${barChart(
      'sessions-by-vendor',
      'Sessions by helpdesk',
      a.groups.vendor,
      (r) => r.key,
      (r) => duration(r.p90_wait_seconds),
    )}
  </div>
</div>
<div class="panel"><h2>Recent sessions</h2>
<div style="overflow-x:auto">
<table id="recent-sessions">
<thead><tr><th>Created (${esc(a.timezone)})</th><th>Protocol</th><th>Helpdesk</th><th>Channel</th><th>Customer</th><th>Team</th><th>Agent</th>
<th>Wait</th><th>Handle</th><th>Status</th><th title="customer / agent / automatic">Messages</th></tr></thead>
<tbody>
${recent.length ? recent.map((r) => sessionRow(r, a.timezone)).join('\n') : '<tr><td colspan="11" class="muted">No sessions in this range.</td></tr>'}
</tbody>
</table>
</div>
</div>
</body>
</html>
`;
}

function card(title: string, value: string, id: string): string {
  return `<div class="card" data-metric="${esc(id)}"><span class="muted">${esc(title)}</span><b>${esc(value)}</b></div>`;
}

function legend(items: Array<[string, string]>): string {
  return `<div class="legend">${items.map(([n, c]) => `<span><i style="background:${c}"></i>${esc(n)}</span>`).join('')}</div>`;
}

interface Series {
  name: string;
  color: string;
  value: (row: AggregateRow) => number | null;
}

/** Grouped vertical bars: one group per row (day), one bar per series. */
function columnChart(
  id: string,
  title: string,
  rows: AggregateRow[],
  series: Series[],
  format: (n: number | null) => string,
  integer = false,
): string {
  const W = 560;
  const H = 220;
  const left = 52;
  const bottom = 28;
  const top = 10;
  const plotW = W - left - 8;
  const plotH = H - top - bottom;
  const highest = Math.max(0, ...rows.flatMap((r) => series.map((s) => s.value(r) ?? 0)));
  // Counts get whole-number gridlines (four steps); other values a round maximum.
  // Durations of a minute or more: a round number of minutes.
  const max = integer
    ? Math.max(4, Math.ceil(highest / 4) * 4)
    : highest >= 60
      ? niceMax(highest / 60) * 60
      : niceMax(highest);
  const slot = rows.length ? plotW / rows.length : plotW;
  const barW = Math.max(1, (slot * 0.8) / series.length);
  const parts: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    const y = top + plotH - (plotH * i) / 4;
    parts.push(
      `<line x1="${left}" x2="${W - 8}" y1="${y}" y2="${y}" stroke="#e2e8f0"/>`,
      `<text x="${left - 6}" y="${y + 4}" text-anchor="end">${esc(format(v))}</text>`,
    );
  }
  const labelEvery = Math.max(1, Math.ceil(rows.length / 10));
  rows.forEach((row, i) => {
    series.forEach((s, j) => {
      const value = s.value(row);
      const h = value && max ? (plotH * value) / max : 0;
      const x = left + i * slot + slot * 0.1 + j * barW;
      parts.push(
        `<rect class="bar" data-series="${esc(s.name)}" data-key="${esc(row.key)}" data-value="${value ?? ''}" x="${r2(x)}" y="${r2(top + plotH - h)}" width="${r2(barW)}" height="${r2(h)}" fill="${s.color}"><title>${esc(row.key)} · ${esc(s.name)}: ${esc(format(value))}</title></rect>`,
      );
    });
    if (i % labelEvery === 0)
      parts.push(
        `<text x="${r2(left + i * slot + slot / 2)}" y="${H - 10}" text-anchor="middle">${esc(row.key.slice(5))}</text>`,
      );
  });
  const empty = rows.every((r) => series.every((s) => !s.value(r)));
  if (empty) parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">No data in this range</text>`);
  return `<svg data-chart="${esc(id)}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">${parts.join('')}</svg>`;
}

/** Horizontal bars of `sessions`, one per row, with a label on the left and a note on the right. */
function barChart(
  id: string,
  title: string,
  rows: AggregateRow[],
  label: (row: AggregateRow) => string,
  note: (row: AggregateRow) => string,
  limit = 12,
): string {
  const shown = rows.slice(0, limit);
  const W = 560;
  const rowH = 24;
  const left = 170;
  const right = 120;
  const H = Math.max(1, shown.length) * rowH + 8;
  const max = Math.max(1, ...shown.map((r) => r.sessions));
  const parts = shown.map((row, i) => {
    const y = 4 + i * rowH;
    const w = ((W - left - right) * row.sessions) / max;
    const name = label(row);
    const muted = Object.values(NO_VALUE).includes(row.key) ? ' font-style="italic"' : '';
    return (
      `<text x="${left - 8}" y="${y + 15}" text-anchor="end"${muted}>${esc(truncate(name, 26))}</text>` +
      `<rect class="bar" data-series="sessions" data-key="${esc(row.key)}" data-value="${row.sessions}" x="${left}" y="${y + 3}" width="${r2(w)}" height="${rowH - 8}" rx="3" fill="${COLORS.sessions}"><title>${esc(name)}: ${row.sessions} sessions</title></rect>` +
      `<text x="${r2(left + w + 6)}" y="${y + 15}">${row.sessions}</text>` +
      `<text x="${W - 4}" y="${y + 15}" text-anchor="end">${esc(note(row))}</text>`
    );
  });
  if (!shown.length)
    parts.push(`<text x="${W / 2}" y="20" text-anchor="middle">No data in this range</text>`);
  return `<svg data-chart="${esc(id)}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">${parts.join('')}</svg>`;
}

function sessionRow(s: SessionRow, timezone: string): string {
  const status = s.status === 'open' ? 'open' : s.expired ? 'expired' : `closed by ${s.closed_by ?? '?'}`;
  const cls = s.status === 'open' ? 'open' : s.expired ? 'expired' : '';
  return `<tr data-session="${esc(s.session_id)}"><td>${esc(localDateTime(s.created_at, timezone))}</td><td>${esc(s.protocol ?? '')}</td><td>${esc(s.vendor ?? '')}</td><td>${esc(s.channel ?? '')}</td><td>${esc(s.customer_name ?? maskIdentity(s.customer_identity))}</td><td>${esc(s.team ?? '')}</td><td>${esc(s.agent_name ?? s.agent_id ?? '')}</td><td class="num">${esc(duration(s.waiting_seconds))}</td><td class="num">${esc(duration(s.handle_seconds))}</td><td><span class="pill ${cls}">${esc(status)}</span></td><td class="num">${s.customer_messages}/${s.agent_messages}/${s.automatic_messages}</td></tr>`;
}

/** `5511987654321@wa.gw.msging.net` → `…4321@wa.gw.msging.net`: enough to tell customers apart on screen. */
function maskIdentity(identity: string | null): string {
  if (!identity) return '';
  const [name = '', domain = ''] = identity.split('@');
  return `…${name.slice(-4)}${domain ? `@${domain}` : ''}`;
}

export function duration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** Axis labels: 90 s → 1.5m, 2 h → 2h. */
function compactDuration(seconds: number | null): string {
  if (seconds === null || seconds === 0) return '0';
  if (seconds < 60) return `${r2(seconds)}s`;
  if (seconds < 3600) return `${r2(seconds / 60)}m`;
  return `${r2(seconds / 3600)}h`;
}

function percent(share: number | null): string {
  return share === null ? '–' : `${Math.round(share * 1000) / 10}%`;
}

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 4, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function r2(n: number): number {
  return Math.round(n * 100) / 100;
}

export function esc(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}
