import { loadConfig } from '../../src/config';
import { openSampleSource } from '../../src/sources';

const KEYSTONE = {
  current: () => Promise.reject(new Error('no Keystone here')),
  invalidate: () => undefined,
};

function configWith(env: Record<string, string>) {
  return loadConfig({ files: [], env: { HOME: '/root', ...env } });
}

describe('samples_source opens the source it names', () => {
  test('agents: none (samples come from POST /v1/samples)', () => {
    expect(openSampleSource(configWith({}), KEYSTONE)).toBeNull();
  });

  test("neat-db: Neat's database at sql_connection (the password never in the description)", async () => {
    const source = openSampleSource(configWith({ NEAT_SAMPLES_SOURCE: 'neat-db', NEAT_SQL_CONNECTION: 'mysql://neat:secret@127.0.0.1:3306/neat' }), KEYSTONE);
    expect(source?.description).toBe('neat-db (mysql://neat@127.0.0.1:3306/neat)');
    await source?.close();
  });

  test('prometheus: the query API at prometheus_url', async () => {
    const source = openSampleSource(configWith({ NEAT_SAMPLES_SOURCE: 'prometheus', NEAT_PROMETHEUS_URL: 'http://127.0.0.1:9090' }), KEYSTONE);
    expect(source?.description).toBe('prometheus at http://127.0.0.1:9090');
    await source?.close();
  });
});
