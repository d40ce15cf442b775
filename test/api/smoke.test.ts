import { createHash } from 'node:crypto';
import { startFixture, TOKEN, ADMIN_PASSWORD, ADMIN_USER } from './fixture';

const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex');

test('a Neat PUT is recorded and decided; the JSON API shows it', async () => {
  const fixture = await startFixture();
  try {
    const now = Date.now() / 1000;
    const response = await fetch(`${fixture.url}/`, {
      method: 'PUT',
      body: new URLSearchParams({ username: sha1(ADMIN_USER), password: sha1(ADMIN_PASSWORD), time: String(now), host: 'host-1', reason: '0' }),
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
    const events = await (await fetch(`${fixture.url}/v1/events?limit=100`, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as { events: { type: string }[] };
    expect(events.events.map((e) => e.type)).toContain('RequestReceived');
  } finally {
    await fixture.close();
  }
});
