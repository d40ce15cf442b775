/**
 * A report document as one self-contained HTML file: tables and facts as
 * HTML, charts as JSON that `client.js` draws with uPlot, both inlined with
 * uPlot's own script and style. A Content-Security-Policy forbids the page
 * any request, so that the file shows the same anywhere, offline.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Block, ChartBlock, HeatmapBlock, ReportDocument, TableCell } from './document';
import { drawnBlocks } from './document';

const UPLOT_SCRIPT = require.resolve('uplot/dist/uPlot.iife.min.js');
const UPLOT_STYLE = require.resolve('uplot/dist/uPlot.min.css');
const UPLOT_PACKAGE = require.resolve('uplot/package.json');
/** Not compiled: from dist/src/report, the source beside it in src/report. */
const CLIENT_SCRIPT = join(__dirname, '..', '..', '..', 'src', 'report', 'client.js');

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/**
 * JSON inside `<script type="application/json">`: every `<` escaped, so
 * that no string in the data (a host named `</script>`) can end the element.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/**
 * uPlot's script, its banner (the project's address) replaced by its MIT
 * licence, which a copy must carry: the page names no address at all.
 */
function uplotScript(): string {
  const script = readFileSync(UPLOT_SCRIPT, 'utf8').replace(/^\/\*![^*]*\*\/\n?/, '');
  const { version } = JSON.parse(readFileSync(UPLOT_PACKAGE, 'utf8')) as { version: string };
  const licence = readFileSync(join(dirname(UPLOT_PACKAGE), 'LICENSE'), 'utf8').replace(/\*\//g, '* /');
  return `/*! uPlot ${version}\n${licence}*/\n${script}`;
}

/** Inlined script text must not hold `</script` either. */
function inlineScript(source: string): string {
  return source.replace(/<\/script/gi, '<\\/script');
}

const STYLE = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1b1b1b; background: #fafafa; }
header { padding: 20px 32px 12px; background: #fff; border-bottom: 1px solid #ddd; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #555; }
main { padding: 8px 32px 40px; max-width: 1400px; }
section > h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.block { background: #fff; border: 1px solid #e2e2e2; border-radius: 6px; padding: 12px 16px; margin: 12px 0; overflow-x: auto; }
.block h3 { font-size: 15px; margin: 0 0 8px; }
.note { color: #666; font-size: 12px; margin: 6px 0 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 12px 3px 0; text-align: left; vertical-align: top; border-bottom: 1px solid #f0f0f0; }
th { font-weight: 600; border-bottom: 1px solid #ccc; }
td.number { text-align: right; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dt { color: #555; }
dd { margin: 0; overflow-wrap: anywhere; }
pre { margin: 0; font-size: 12px; max-height: 360px; overflow: auto; }
.chart { min-height: 320px; }
.heatmap { position: relative; }
.heatmap canvas { display: block; image-rendering: pixelated; }
.summary-facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 0 16px; }
`;

function cellHtml(cell: TableCell, tag: 'td' | 'th'): string {
  if (typeof cell === 'string') return `<${tag}>${escapeHtml(cell)}</${tag}>`;
  return `<${tag} class="number" data-value="${escapeHtml(String(cell.value))}">${escapeHtml(cell.text)}</${tag}>`;
}

function chartHtml(block: ChartBlock | HeatmapBlock): string {
  const note = block.note === undefined ? '' : `<p class="note">${escapeHtml(block.note)}</p>`;
  const kind = block.kind === 'chart' ? 'chart' : 'heatmap';
  return `<div class="block"><h3>${escapeHtml(block.title)}</h3><div class="${kind}" id="chart-${escapeHtml(block.id)}"></div>${note}</div>`;
}

function blockHtml(block: Block): string {
  switch (block.kind) {
    case 'chart':
    case 'heatmap':
      return chartHtml(block);
    case 'table': {
      if (block.rows.length === 0) return `<div class="block"><h3>${escapeHtml(block.title)}</h3><p class="note">none</p></div>`;
      const head = `<tr>${block.header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
      const body = block.rows.map((row) => `<tr>${row.map((cell) => cellHtml(cell, 'td')).join('')}</tr>`).join('\n');
      return `<div class="block"><h3>${escapeHtml(block.title)}</h3><table><thead>${head}</thead><tbody>\n${body}\n</tbody></table></div>`;
    }
    case 'facts': {
      const rows = block.rows.map(([label, value]) => `<dt>${escapeHtml(label)}</dt><dd>${escapeHtml(value)}</dd>`).join('');
      return `<div class="block"><h3>${escapeHtml(block.title)}</h3><dl>${rows}</dl></div>`;
    }
    case 'preformatted':
      return `<div class="block"><h3>${escapeHtml(block.title)}</h3><pre>${escapeHtml(block.text)}</pre></div>`;
  }
}

/** The chart data the page draws: the charts and heatmaps, in order, as `client.js` reads them. */
function pageData(document: ReportDocument): unknown {
  return { charts: drawnBlocks(document).map((block) => ({ ...block, title: undefined, note: undefined })) };
}

export interface RenderedReport {
  readonly html: string;
  readonly charts: number;
}

export function renderHtml(document: ReportDocument): RenderedReport {
  const sections = document.sections.map((section) =>
    `<section><h2>${escapeHtml(section.title)}</h2>\n${section.blocks.map(blockHtml).join('\n')}\n</section>`).join('\n');
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(document.title)}</title>
<style>${readFileSync(UPLOT_STYLE, 'utf8')}</style>
<style>${STYLE}</style>
</head>
<body>
<header><h1>${escapeHtml(document.title)}</h1><p>${escapeHtml(document.subtitle)}</p></header>
<main>
${sections}
</main>
<script type="application/json" id="neat-report-data">${scriptJson(pageData(document))}</script>
<script>${inlineScript(uplotScript())}</script>
<script>${inlineScript(readFileSync(CLIENT_SCRIPT, 'utf8'))}</script>
</body>
</html>
`;
  return { html, charts: drawnBlocks(document).length };
}
