/**
 * CloudSim 3.0.3's own results (`../shared/reference/cloudsim-table.csv`,
 * reference/cloudsim.md §7): 5 PlanetLab days, file list in sorted order,
 * every detector × selection on 20110303 and a selection of policies on the
 * others. A row is checked at the precision CloudSim printed it, digit for
 * digit: energy to 5 decimals, SLATAH, PDM and SLAV to 10, migrations and
 * host shutdowns exactly.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSimulation } from '../../sim/run';
import { readPlanetLabTrace } from '../../traces/planetlab';
import type { Trace } from '../../traces/trace';
import { planetLabDay, PROJECT_ROOT } from '../support/planetlab';
import { prerequisite } from '../support/prerequisite';

export const CLOUDSIM_TABLE = join(PROJECT_ROOT, '..', 'shared', 'reference', 'cloudsim-table.csv');
const COLUMNS = 'day,policy,energy_kwh,migrations,slatah,pdm,slav,host_shutdowns';

/** One row, as printed: the values stay strings, so that they are compared at CloudSim's own precision. */
export interface CloudsimRow {
  readonly day: string;
  readonly policy: string;
  readonly energyKwh: string;
  readonly migrations: string;
  readonly slatah: string;
  readonly pdm: string;
  readonly slav: string;
  readonly hostShutdowns: string;
}

let rows: readonly CloudsimRow[] | null | undefined;

/** The table's rows, or null when the shared reference is not beside the project (a loud skip; on CI, a failure). */
export function cloudsimRows(): readonly CloudsimRow[] | null {
  if (rows !== undefined) return rows;
  if (!prerequisite(`CloudSim's table ${CLOUDSIM_TABLE}`, existsSync(CLOUDSIM_TABLE), 'the shared reference is expected in ../shared beside the project')) {
    rows = null;
    return rows;
  }
  const [header, ...lines] = readFileSync(CLOUDSIM_TABLE, 'utf8').trim().split(/\r?\n/);
  if (header !== COLUMNS) throw new Error(`${CLOUDSIM_TABLE}: columns "${header}", expected "${COLUMNS}"`);
  rows = lines.map((line, index) => {
    const cells = line.split(',');
    if (cells.length !== 8) throw new Error(`${CLOUDSIM_TABLE}:${index + 2}: ${cells.length} cells, expected 8`);
    const [day, policy, energyKwh, migrations, slatah, pdm, slav, hostShutdowns] = cells;
    return { day, policy, energyKwh, migrations, slatah, pdm, slav, hostShutdowns };
  });
  return rows;
}

const traces = new Map<string, Trace>();

/** The day's trace, read once per test file; null when the shared traces are absent (skip, or fail on CI). */
export function dayTrace(day: string): Trace | null {
  const cached = traces.get(day);
  if (cached !== undefined) return cached;
  const path = planetLabDay(day);
  if (path === null) return null;
  const trace = readPlanetLabTrace(path);
  traces.set(day, trace);
  return trace;
}

/** Our figures for the row's day and policy, printed as CloudSim prints them. */
export async function ourRow(row: CloudsimRow, trace: Trace): Promise<CloudsimRow> {
  const { metrics } = await runSimulation({ trace, mode: 'cloudsim', policy: row.policy, seed: '1' });
  return {
    day: row.day, policy: row.policy, energyKwh: metrics.energyKwh.toFixed(5), migrations: String(metrics.migrations),
    slatah: metrics.slatah.toFixed(10), pdm: metrics.pdm.toFixed(10), slav: metrics.slav.toFixed(10), hostShutdowns: String(metrics.hostShutdowns),
  };
}

/**
 * Rows that still differ, by `<day> <policy>`, with how. Each is a
 * `test.failing`: it fails the day the row starts to agree, and then comes off
 * this list.
 */
const KNOWN_DIFFERENCES: ReadonlyMap<string, string> = new Map([
  ['20110303 iqr-mmt-1.5', 'PDM 0.0006235216 against 0.0006235224 (and SLAV by it); energy, migrations, SLATAH and shutdowns equal; cause not found yet'],
]);

/** One test per row of `day`: equal to CloudSim's to the last printed digit. */
export function describeCloudsimDay(day: string): void {
  const all = cloudsimRows();
  const dayRows = all?.filter((row) => row.day === day) ?? [];
  const trace = all === null ? null : dayTrace(day);
  const describeDay = trace === null ? describe.skip : describe;
  describeDay(`CloudSim 3.0.3's own figures on PlanetLab ${day}, to the last printed digit`, () => {
    test(`the table has rows for ${day}`, () => {
      expect(dayRows.length).toBeGreaterThan(0);
    });
    for (const row of dayRows) {
      const why = KNOWN_DIFFERENCES.get(`${row.day} ${row.policy}`);
      const check = why === undefined ? test : test.failing;
      check(`${row.policy}${why === undefined ? '' : ` (known difference: ${why})`}`, async () => {
        expect(await ourRow(row, trace as Trace)).toEqual(row);
      });
    }
  });
}
