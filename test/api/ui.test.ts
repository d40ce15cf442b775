/**
 * `GET /ui` over real HTTP on loopback: the page, its Content-Security-Policy
 * (every inline script and style allowed by its hash, nothing else), no place
 * where the token could end up in a URL, and Neat's `/` untouched.
 * The page at work in Chromium: dashboard.browser.test.ts.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dashboardPage, UI_SCRIPT_PATH } from '../../src/api/ui';
import { bearer, withFixture } from './client';

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** The policy as directive → sources. */
function directives(policy: string): Map<string, string[]> {
  return new Map(policy.split(';').map((part) => part.trim().split(/\s+/)).map(([name, ...sources]) => [name, sources]));
}

/** The text of every element `tag` of the page, and its attributes. */
function elements(html: string, tag: string): { attributes: string; text: string }[] {
  return [...html.matchAll(new RegExp(`<${tag}(\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, 'gi'))].map((match) => ({ attributes: (match[1] as string | undefined) ?? '', text: match[2] }));
}

describe('GET /ui', () => {
  test('is one page whose inline script and style are exactly what its policy allows, by hash', async () => {
    await withFixture({}, async (fixture) => {
      const response = await fetch(`${fixture.url}/ui`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('cache-control')).toBe('no-store');
      const html = await response.text();
      const policy = directives(response.headers.get('content-security-policy') ?? '');

      const scripts = elements(html, 'script');
      const styles = elements(html, 'style');
      expect(scripts).toHaveLength(1);
      expect(styles).toHaveLength(1);
      expect(scripts[0].attributes).toBe('');
      expect(scripts[0].text).toBe(readFileSync(UI_SCRIPT_PATH, 'utf8'));
      expect(policy.get('script-src')).toEqual([sha256(scripts[0].text)]);
      expect(policy.get('style-src')).toEqual([sha256(styles[0].text)]);
      expect(policy.get('default-src')).toEqual(["'none'"]);
      expect(policy.get('connect-src')).toEqual(["'self'"]);
      expect(policy.get('img-src')).toEqual(['data:']);
      expect(policy.get('form-action')).toEqual(["'none'"]);
      expect(policy.get('frame-ancestors')).toEqual(["'none'"]);
      expect(policy.get('base-uri')).toEqual(["'none'"]);
      expect([...policy.keys()].sort()).toEqual(['base-uri', 'connect-src', 'default-src', 'form-action', 'frame-ancestors', 'img-src', 'script-src', 'style-src']);

      // No handler or style attribute in the markup (the policy would block them), nothing loaded from anywhere.
      expect(html).not.toMatch(/<[^>]*\son[a-z]+\s*=/i);
      expect(html).not.toMatch(/<[^>]*\sstyle\s*=/i);
      expect(html).not.toMatch(/javascript:/i);
      expect(html).not.toMatch(/\s(src|href)\s*=\s*"(?!data:)/i);
    });
  });

  test('gives the token no way into a URL: no EventSource, an input without a name, no form action', async () => {
    await withFixture({}, async (fixture) => {
      const html = await (await fetch(`${fixture.url}/ui`)).text();
      const script = elements(html, 'script')[0].text;
      expect(script).not.toMatch(/new EventSource/);
      expect(script).toMatch(/Authorization: `Bearer \$\{token\(\)\}`/);
      // Every URL the script asks for is a literal path or the stream's, built from positions only.
      const fetched = [...script.matchAll(/fetch\(([^,)]+)/g)].map((match) => match[1].trim());
      expect(fetched.sort()).toEqual(['path', 'url']);
      expect([...script.matchAll(/getJson\('([^']+)'/g)].map((match) => match[1]).sort())
        .toEqual(['/healthz', '/healthz', '/v1/events?limit=1', '/v1/hosts', '/v1/vms']);
      expect(script).toContain('const url = `/v1/events/stream?exclude=${EXCLUDED_TYPES}&after=${state.position}`;');
      const input = /<input[^>]*id="token-input"[^>]*>/.exec(html)?.[0] ?? '';
      expect(input).toContain('type="password"');
      expect(input).not.toMatch(/\sname=/);
      expect(html).not.toMatch(/<form[^>]*\saction=/);
    });
  });

  test('needs no token, answers HEAD, and takes no other method', async () => {
    await withFixture({}, async (fixture) => {
      expect((await fetch(`${fixture.url}/ui`, { method: 'HEAD' })).status).toBe(200);
      const posted = await fetch(`${fixture.url}/ui`, { method: 'POST', headers: bearer() });
      expect(posted.status).toBe(405);
      expect(posted.headers.get('allow')).toBe('HEAD, GET');
    });
  });

  test("GET / is still Neat's 405: the dashboard lives at /ui", async () => {
    await withFixture({}, async (fixture) => {
      const answer = await fetch(`${fixture.url}/`);
      expect(answer.status).toBe(405);
      expect(answer.headers.get('allow')).toBe('PUT');
      expect(await answer.text()).toMatch(/^Method not allowed: /);
    });
  });

  test('a script that would close its own element early is refused', () => {
    expect(() => dashboardPage('const end = "</SCRIPT>";')).toThrow(/<\/script/);
  });
});

describe('the positions the dashboard starts from', () => {
  test('GET /v1/hosts and /v1/vms name the log position they reflect', async () => {
    await withFixture({}, async (fixture) => {
      const read = async (path: string): Promise<number> => ((await (await fetch(`${fixture.url}${path}`, { headers: bearer() })).json()) as { position: number }).position;
      const before = await read('/healthz');
      const hosts = await read('/v1/hosts');
      await fixture.service.manager.recordSample({ host: 'host-0', hypervisorCpuMhz: 100, vms: [] });
      const vms = await read('/v1/vms');
      const after = await read('/healthz');
      expect(before).toBeGreaterThan(0);
      expect(hosts).toBeGreaterThanOrEqual(before);
      // The sample recorded between the two reads is one event: /v1/vms reflects it.
      expect(vms).toBeGreaterThanOrEqual(hosts + 1);
      expect(after).toBeGreaterThanOrEqual(vms);
      const last = await fixture.log.readAll(vms, 1);
      expect(last[0]?.position).toBe(vms);
    });
  });
});
