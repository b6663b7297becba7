// The analytics page (#/analytics): what the gateway's usage ledger knows — totals, cost,
// tokens and latency per day (uPlot charts, loaded on first visit), tables by model and
// provider, and the latest requests with every attempt. A gateway without a ledger answers
// 404 on /usage/*, and the page says so instead of breaking.

import { LedgerOff, loadUsage } from '../api.js';
import { byId, h } from '../dom.js';
import { formatCost, formatCount, formatMs } from '../format.js';

const DAY = 86400;
let uPlot = null; // the vendored module, imported on the first visit only
let charts = [];
let last = null; // the data drawn, to redraw on a theme change

export function initAnalytics() {
  byId('usage-range').addEventListener('change', refresh);
  byId('usage-refresh').addEventListener('click', refresh);
  const redraw = () => last && !byId('analytics').hidden && drawCharts(last);
  new MutationObserver(redraw).observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', redraw);
  new ResizeObserver(() => {
    for (const c of charts) c.setSize(size(c.root.parentElement));
  }).observe(byId('usage-body'));
}

/** Loads and draws the page; called each time it is shown. */
export async function refresh() {
  const body = byId('usage-body');
  body.setAttribute('aria-busy', 'true');
  const days = Number(byId('usage-range').value);
  const from = startOfUtcDay(Date.now() / 1000) - (days - 1) * DAY;
  try {
    uPlot ??= (await import('../../vendor/uplot/uPlot.esm.js')).default;
    const data = await loadUsage(from);
    last = { ...data, from, span: days };
    render(last);
  } catch (e) {
    destroyCharts();
    last = null;
    body.replaceChildren(
      e instanceof LedgerOff
        ? notice('The usage ledger is off', 'This gateway keeps no record of requests, so there is nothing to show. Remove "usage": false from llms.json to switch it on.')
        : notice('Usage could not be loaded', e.message || String(e)),
    );
  } finally {
    body.removeAttribute('aria-busy');
  }
}

const startOfUtcDay = (t) => Math.floor(t / DAY) * DAY;
const notice = (title, text) => h('div', { class: 'usage-notice', id: 'usage-notice', role: 'status' }, h('h2', { text: title }), h('p', { text }));
const sum = (rows, field) => rows.reduce((acc, r) => acc + (r[field] ?? 0), 0);

function render(data) {
  const { days, models, providers, keys = [], latest, from } = data;
  const inRange = latest.filter((r) => r.created >= from);
  const failovers = inRange.filter((r) => r.attempts.length > 1).length;
  const requests = sum(days, 'requests');
  const errors = sum(days, 'errors');
  const cards = h(
    'div',
    { class: 'usage-cards' },
    card('Requests', formatCount(requests)),
    card('Errors', formatCount(errors), requests ? `${((100 * errors) / requests).toFixed(1)} %` : ''),
    card('Failovers', formatCount(failovers), `in the latest ${formatCount(inRange.length)} requests`),
    card('Cost', formatCost(sum(days, 'cost')) || '$0'),
    card('Tokens', formatCount(sum(days, 'prompt_tokens') + sum(days, 'completion_tokens')), `${formatCount(sum(days, 'prompt_tokens'))} in · ${formatCount(sum(days, 'completion_tokens'))} out`),
  );
  const chartBox = (id, title) => h('figure', { class: 'usage-chart', id }, h('figcaption', { text: title }), h('div', { class: 'chart-area' }));
  const parts = [
    cards,
    h('div', { class: 'usage-charts' }, chartBox('chart-cost', 'Cost per day (USD)'), chartBox('chart-tokens', 'Tokens per day'), chartBox('chart-latency', 'Latency per day (ms)')),
    section('By model', groupTable('usage-models', 'Model', models)),
    section('By provider', groupTable('usage-providers', 'Provider', providers)),
    keys.some((r) => r.group != null) ? section('By key', groupTable('usage-keys', 'Key', keys, '(no key)')) : null,
    section('Latest requests', latestTable(latest.slice(0, 50))),
  ];
  byId('usage-body').replaceChildren(...parts.filter(Boolean));
  drawCharts(data);
}

const card = (label, value, note = '') =>
  h('div', { class: 'usage-card' }, h('div', { class: 'usage-card-label', text: label }), h('div', { class: 'usage-card-value', text: value }), note && h('div', { class: 'usage-card-note', text: note }));
const section = (title, content) => h('section', { class: 'usage-section' }, h('h2', { text: title }), h('div', { class: 'table-wrap' }, content));
const cell = (text, cls) => h('td', { class: cls, text: text ?? '' });
const num = (n) => cell(n == null ? '–' : formatCount(n), 'num');

function groupTable(id, label, rows, none = '(none served)') {
  if (!rows.length) return h('p', { class: 'usage-empty', text: 'No requests in this period.' });
  const head = [label, 'Requests', 'Errors', 'Tokens in', 'Tokens out', 'Cost', 'p50', 'p95'];
  return h(
    'table',
    { class: 'usage-table', id },
    h('thead', {}, h('tr', {}, head.map((t, i) => h('th', { scope: 'col', class: i ? 'num' : null, text: t })))),
    h('tbody', {}, rows.map((r) => h('tr', {}, h('th', { scope: 'row', text: r.group ?? none }), num(r.requests), num(r.errors), num(r.prompt_tokens), num(r.completion_tokens), cell(formatCost(r.cost) || '–', 'num'), cell(formatMs(r.p50_ms) || '–', 'num'), cell(formatMs(r.p95_ms) || '–', 'num')))),
  );
}

function attemptsOf(record) {
  return h(
    'ol',
    { class: 'attempts', 'aria-label': `${record.attempts.length} attempt${record.attempts.length === 1 ? '' : 's'}` },
    record.attempts.map((a) =>
      h('li', { class: `attempt ${a.error ? 'failed' : 'ok'}`, title: a.error || 'served' }, `${a.provider} `, h('span', { class: 'attempt-status', text: a.status ?? '—' }), a.error ? ` ${a.error}` : '', ` · ${formatMs(a.seconds * 1000)}`),
    ),
  );
}

function latestTable(records) {
  if (!records.length) return h('p', { class: 'usage-empty', text: 'No requests recorded yet.' });
  const head = ['Time', 'Model', 'Outcome', 'Attempts', 'Tokens', 'Cost', 'Duration'];
  const time = (t) => new Date(t * 1000).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const tokens = (r) => (r.prompt_tokens == null ? '–' : `${formatCount(r.prompt_tokens)} / ${formatCount(r.completion_tokens)}`);
  return h(
    'table',
    { class: 'usage-table latest', id: 'usage-latest' },
    h('thead', {}, h('tr', {}, head.map((t) => h('th', { scope: 'col', class: ['Tokens', 'Cost', 'Duration'].includes(t) ? 'num' : null, text: t })))),
    h(
      'tbody',
      {},
      records.map((r) =>
        h('tr', { dataset: { id: r.id } }, cell(time(r.created), 'when'), h('td', {}, h('div', { text: r.model }), h('div', { class: 'sub', text: r.provider ?? '' })), h('td', {}, h('span', { class: `outcome ${r.outcome}`, text: r.outcome }), h('div', { class: 'sub', text: String(r.status) })), h('td', {}, attemptsOf(r)), cell(tokens(r), 'num'), cell(formatCost(r.cost) || '–', 'num'), cell(formatMs(r.duration_ms) || '–', 'num')),
      ),
    ),
  );
}

// -- charts -------------------------------------------------------------------------------------

function destroyCharts() {
  for (const c of charts) c.destroy();
  charts = [];
}

function size(box) {
  const width = Math.max(240, box.clientWidth);
  return { width, height: width < 500 ? 180 : 220 };
}

/** One value per UTC day of the period; null where the ledger knows none (no bar, no point). */
function series(data) {
  const byDay = new Map(data.days.map((d) => [d.group, d]));
  const xs = [], cost = [], prompt = [], completion = [], p50 = [], p95 = [];
  for (let i = 0; i < data.span; i++) {
    const t = data.from + i * DAY;
    const d = byDay.get(new Date(t * 1000).toISOString().slice(0, 10));
    xs.push(t);
    cost.push(d?.cost ?? null);
    prompt.push(d?.prompt_tokens ?? null);
    completion.push(d?.completion_tokens ?? null);
    p50.push(d?.p50_ms ?? null);
    p95.push(d?.p95_ms ?? null);
  }
  return { xs, cost, prompt, completion, p50, p95 };
}

function drawCharts(data) {
  destroyCharts();
  // The palette is light-dark() pairs, which a canvas cannot parse: let the browser resolve them.
  const probe = h('span', { hidden: true });
  document.body.append(probe);
  const color = (name) => {
    probe.style.color = `var(${name})`;
    return getComputedStyle(probe).color;
  };
  const s = series(data);
  const axis = { stroke: color('--text-muted'), grid: { stroke: color('--border'), width: 1 }, ticks: { stroke: color('--border') } };
  const utc = (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC');
  const make = (id, lines, ys, yFormat) => {
    const area = byId(id).querySelector('.chart-area');
    const opts = {
      ...size(area),
      tzDate: utc,
      cursor: { drag: { x: false, y: false } },
      legend: { live: false },
      // half a day of margin each side, so the first and last day's bars are whole
      scales: { x: { time: true, range: () => [data.from - DAY / 2, data.from + (data.span - 0.5) * DAY] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [{ ...axis, space: 60 }, { ...axis, size: 64, values: (_u, ticks) => ticks.map(yFormat) }],
      series: [{}, ...lines],
    };
    charts.push(new uPlot(opts, [s.xs, ...ys], area));
  };
  const bars = uPlot.paths.bars({ size: [0.6, 48] });
  const line = (label, stroke, extra = {}) => ({ label, stroke, width: 2, spanGaps: true, points: { size: 6 }, ...extra });
  make('chart-cost', [line('Cost', color('--chart-1'), { paths: bars, fill: color('--chart-1'), points: { show: false }, value: (_u, v) => formatCost(v) })], [s.cost], (v) => formatCost(v) || '$0');
  make('chart-tokens', [line('Tokens in', color('--chart-1')), line('Tokens out', color('--chart-2'))], [s.prompt, s.completion], compact);
  make('chart-latency', [line('p50', color('--chart-1'), { value: (_u, v) => formatMs(v) }), line('p95', color('--chart-3'), { value: (_u, v) => formatMs(v) })], [s.p50, s.p95], (v) => `${compact(v)}`);
  probe.remove();
}

function compact(n) {
  if (n == null) return '';
  if (Math.abs(n) >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (Math.abs(n) >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return `${+n.toFixed(2)}`;
}
