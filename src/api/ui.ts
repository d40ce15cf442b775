/**
 * `GET /ui`: the operator's live dashboard, one self-contained page (its HTML,
 * style and script in one answer; nothing from any other origin). Its script
 * (`ui.client.js`, read from the package's `src/api/`) reads the current
 * state from `/healthz`, `/v1/hosts` and `/v1/vms`, then follows
 * `/v1/events/stream` with the bearer token in an `Authorization` header,
 * never in a URL. The Content-Security-Policy allows exactly the page's own
 * script and style, by their SHA-256, and connections to this origin only.
 */
import type Router from '@koa/router';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assert } from '../engine/assert';

/** Read from the package's source tree, as the report's `client.js` is: the build compiles TypeScript only. */
export const UI_SCRIPT_PATH = join(__dirname, '..', '..', '..', 'src', 'api', 'ui.client.js');

export interface DashboardPage {
  readonly html: string;
  readonly contentSecurityPolicy: string;
}

const STYLE = `
:root { color-scheme: light; --ink: #1d2430; --muted: #5b6675; --line: #d9dee5; --panel: #fff; --ground: #f3f5f8;
  --active: #1f9d55; --asleep: #5a6b86; --suspending: #d08a0b; --waking: #2f7dd1; --failed: #c8372d; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--ground); }
header { display: flex; align-items: center; gap: 16px; padding: 10px 20px; background: #1d2430; color: #fff; }
header h1 { font-size: 16px; margin: 0; font-weight: 600; }
header .where { color: #b8c2d0; font-size: 12px; flex: 1; }
header button { background: transparent; color: #dfe6ef; border: 1px solid #56627a; border-radius: 4px; padding: 3px 10px; cursor: pointer; }
.connection { display: inline-flex; align-items: center; gap: 6px; font-size: 13px; }
.connection::before { content: ""; width: 10px; height: 10px; border-radius: 50%; background: #8b95a5; }
.connection.live::before { background: #3ccf7a; }
.connection.reconnecting::before, .connection.connecting::before { background: #f0b429; }
.connection.stopped::before, .connection.token::before { background: #e5534b; }
main { padding: 16px 20px; display: grid; gap: 16px; grid-template-columns: repeat(4, minmax(0, 1fr)); }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; min-width: 0; }
section h2 { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 8px; font-weight: 600; }
.wide { grid-column: 1 / -1; }
.figure { font-size: 28px; font-weight: 600; font-variant-numeric: tabular-nums; }
.figure small { font-size: 13px; color: var(--muted); font-weight: 400; margin-left: 4px; }
.note { color: var(--muted); font-size: 12px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 2px 0 10px; }
.legend span { display: inline-flex; align-items: center; gap: 5px; font-variant-numeric: tabular-nums; }
.legend span::before { content: ""; width: 10px; height: 10px; border-radius: 2px; background: var(--swatch); }
.hosts { display: grid; grid-template-columns: repeat(auto-fill, minmax(96px, 1fr)); gap: 6px; }
.host { border-radius: 4px; padding: 5px 7px; color: #fff; font-size: 12px; line-height: 1.3; }
.host b { display: block; font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.active { --swatch: var(--active); }
.asleep { --swatch: var(--asleep); }
.suspending { --swatch: var(--suspending); }
.waking { --swatch: var(--waking); }
.suspend-failed, .wake-failed { --swatch: var(--failed); }
.host { background: var(--swatch); }
.host.disabled { opacity: .55; }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th { text-align: left; color: var(--muted); font-weight: 500; border-bottom: 1px solid var(--line); padding: 4px 6px; white-space: nowrap; }
td { border-bottom: 1px solid #eef1f4; padding: 4px 6px; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.nowrap { white-space: nowrap; }
td.detail { color: var(--muted); max-width: 0; width: 100%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.scroll { max-height: 420px; overflow-y: auto; }
.scroll th { position: sticky; top: 0; background: var(--panel); }
.outcome { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 12px; background: #e8ecf1; white-space: nowrap; }
.outcome.completed { background: #d8f3e3; color: #17623a; }
.outcome.nothing-to-do, .outcome.recorded, .outcome.superseded { background: #eceff3; color: #4a5566; }
.outcome.failed, .outcome.rejected, .outcome.refused, .outcome.abandoned { background: #fbe0de; color: #8f231b; }
.outcome.partial, .outcome.pending { background: #fdf0d5; color: #7a5205; }
.empty { color: var(--muted); font-style: italic; padding: 6px 0; }
svg.bars { width: 100%; height: 44px; display: block; margin-top: 6px; }
svg.bars rect { fill: #8fb3e0; }
svg.bars rect.high { fill: #e08f8f; }
dialog { border: 1px solid var(--line); border-radius: 8px; padding: 20px 22px; width: 380px; }
dialog::backdrop { background: rgba(20, 26, 36, .45); }
dialog h2 { margin: 0 0 6px; font-size: 16px; }
dialog p { margin: 0 0 12px; color: var(--muted); }
dialog input { width: 100%; padding: 7px 8px; font: inherit; border: 1px solid #b9c2ce; border-radius: 4px; }
dialog .problem { color: var(--failed); min-height: 1.4em; margin: 6px 0; }
dialog button { padding: 6px 16px; font: inherit; border-radius: 4px; border: 1px solid #2f6fb8; background: #2f7dd1; color: #fff; cursor: pointer; }
@media (max-width: 900px) { main { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
`;

const BODY = `
<header>
  <h1>neat-next</h1>
  <span class="where" id="where">the global manager</span>
  <span class="connection connecting" id="connection">starting</span>
  <button type="button" id="forget">Change token</button>
</header>
<main>
  <section><h2>Hosts</h2><div class="figure" id="host-count">–</div><div class="note" id="host-note"></div></section>
  <section><h2>Queue depth</h2><div class="figure" id="queue-depth">–</div><div class="note" id="queue-note"></div><svg class="bars" id="queue-bars" role="img" aria-label="queue depth, recent polls"></svg></section>
  <section><h2>Migrations in flight</h2><div class="figure" id="migration-count">–</div><div class="note" id="migration-note"></div></section>
  <section><h2>Decision latency</h2><div class="figure" id="latency">–</div><div class="note" id="latency-note"></div><svg class="bars" id="latency-bars" role="img" aria-label="decision latency, recent requests"></svg></section>
  <section class="wide"><h2>Hosts by power state</h2><div class="legend" id="power-legend"></div><div class="hosts" id="hosts"></div></section>
  <section class="wide"><h2>Last requests</h2><div class="scroll"><table><thead><tr><th>Received</th><th>Host</th><th>Reason</th><th>Outcome</th><th>Decided in</th><th>Detail</th></tr></thead><tbody id="requests"></tbody></table></div></section>
  <section class="wide"><h2>Migrations</h2><div class="scroll"><table><thead><tr><th>Started</th><th>VM</th><th>From → to</th><th>Attempt</th><th>State</th></tr></thead><tbody id="migrations"></tbody></table></div></section>
</main>
<dialog id="token-dialog">
  <form id="token-form">
    <h2>Bearer token</h2>
    <p>A token of the JSON API (its SHA-256 is in <code>api_tokens_sha256</code>). It stays in this tab's session storage and is sent only in the Authorization header.</p>
    <input type="password" id="token-input" autocomplete="off" spellcheck="false" aria-label="bearer token" required>
    <div class="problem" id="token-problem"></div>
    <button type="submit">Open the dashboard</button>
  </form>
</dialog>
`;

function sha256Base64(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('base64');
}

/**
 * The page around `script`. The token input has no name and the policy allows no form action: even a page whose
 * script failed cannot send the token anywhere in a URL.
 */
export function dashboardPage(script: string): DashboardPage {
  assert(!/<\/script/i.test(script), 'the dashboard script cannot hold "</script": it would end the element early');
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>neat-next · dashboard</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>${BODY}<script>${script}</script>
</body>
</html>
`;
  const contentSecurityPolicy = [
    "default-src 'none'", `script-src 'sha256-${sha256Base64(script)}'`, `style-src 'sha256-${sha256Base64(STYLE)}'`,
    "connect-src 'self'", 'img-src data:', "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
  ].join('; ');
  return { html, contentSecurityPolicy };
}

/** Mounts `GET /ui`; the script is read once, when the routes are built, so that a build without it fails at start. */
export function uiRoutes(router: Router): void {
  const page = dashboardPage(readFileSync(UI_SCRIPT_PATH, 'utf8'));
  router.get('/ui', (ctx) => {
    ctx.set('Content-Security-Policy', page.contentSecurityPolicy);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = page.html;
  });
}
