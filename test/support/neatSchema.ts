/**
 * Neat's tables as `neat/db_utils.py` `init_db` creates them through
 * SQLAlchemy's `metadata.create_all()` on MySQL (Integer → INTEGER,
 * String(n) → VARCHAR(n), DateTime → DATETIME, an Integer primary key →
 * AUTO_INCREMENT), and the statements Neat's data collector runs each
 * interval: `update_host`, `insert_vm_cpu_mhz` (the `vms` row on first sight,
 * then one multi-row INSERT whose `timestamp` default is `now()`),
 * `insert_host_cpu_mhz`.
 */
import type { Connection } from 'mysql2/promise';

export const NEAT_SCHEMA: readonly string[] = [
  'CREATE TABLE hosts (id INTEGER NOT NULL AUTO_INCREMENT, hostname VARCHAR(255) NOT NULL, cpu_mhz INTEGER NOT NULL, '
    + 'cpu_cores INTEGER NOT NULL, ram INTEGER NOT NULL, PRIMARY KEY (id))',
  'CREATE TABLE host_resource_usage (id INTEGER NOT NULL AUTO_INCREMENT, host_id INTEGER NOT NULL, timestamp DATETIME, '
    + 'cpu_mhz INTEGER NOT NULL, PRIMARY KEY (id), FOREIGN KEY (host_id) REFERENCES hosts (id))',
  'CREATE TABLE vms (id INTEGER NOT NULL AUTO_INCREMENT, uuid VARCHAR(36) NOT NULL, PRIMARY KEY (id))',
  'CREATE TABLE vm_resource_usage (id INTEGER NOT NULL AUTO_INCREMENT, vm_id INTEGER NOT NULL, timestamp DATETIME, '
    + 'cpu_mhz INTEGER NOT NULL, PRIMARY KEY (id), FOREIGN KEY (vm_id) REFERENCES vms (id))',
  'CREATE TABLE vm_migrations (id INTEGER NOT NULL AUTO_INCREMENT, vm_id INTEGER NOT NULL, host_id INTEGER NOT NULL, timestamp DATETIME, '
    + 'PRIMARY KEY (id), FOREIGN KEY (vm_id) REFERENCES vms (id), FOREIGN KEY (host_id) REFERENCES hosts (id))',
  'CREATE TABLE host_states (id INTEGER NOT NULL AUTO_INCREMENT, host_id INTEGER NOT NULL, timestamp DATETIME, '
    + 'state INTEGER NOT NULL, PRIMARY KEY (id), FOREIGN KEY (host_id) REFERENCES hosts (id))',
  'CREATE TABLE host_overload (id INTEGER NOT NULL AUTO_INCREMENT, host_id INTEGER NOT NULL, timestamp DATETIME, '
    + 'overload INTEGER NOT NULL, PRIMARY KEY (id), FOREIGN KEY (host_id) REFERENCES hosts (id))',
];

export async function createNeatSchema(connection: Connection): Promise<void> {
  for (const statement of NEAT_SCHEMA) await connection.query(statement);
}

/** `update_host`: inserts the host, or updates it; its id. */
export async function updateHost(connection: Connection, hostname: string, cpuMhz: number, cores: number, ramMb: number): Promise<number> {
  const [rows] = await connection.query<({ id: number } & import('mysql2').RowDataPacket)[]>('SELECT id FROM hosts WHERE hostname = ?', [hostname]);
  if (rows.length > 0) {
    const existing = rows[0].id;
    await connection.query('UPDATE hosts SET cpu_mhz = ?, cpu_cores = ?, ram = ? WHERE id = ?', [cpuMhz, cores, ramMb, existing]);
    return existing;
  }
  const [result] = await connection.query<import('mysql2').ResultSetHeader>('INSERT INTO hosts (hostname, cpu_mhz, cpu_cores, ram) VALUES (?, ?, ?, ?)', [hostname, cpuMhz, cores, ramMb]);
  return result.insertId;
}

/**
 * One collector interval of one host: its VMs' MHz in one INSERT, then the
 * hypervisor's. `timeS` stands for the server's `now()`, so that tests choose
 * the intervals; the host row is a second later when `hostLagS` says so, as a
 * collector's second statement may be.
 */
export async function collect(connection: Connection, host: string, vmsMhz: Readonly<Record<string, number>>, hypervisorMhz: number, timeS: number, hostLagS = 0): Promise<void> {
  const entries = Object.entries(vmsMhz);
  const vmIds: number[] = [];
  for (const [uuid] of entries) {
    const [rows] = await connection.query<({ id: number } & import('mysql2').RowDataPacket)[]>('SELECT id FROM vms WHERE uuid = ?', [uuid]);
    const id = rows[0]?.id ?? (await connection.query<import('mysql2').ResultSetHeader>('INSERT INTO vms (uuid) VALUES (?)', [uuid]))[0].insertId;
    vmIds.push(id);
  }
  if (entries.length > 0) {
    await connection.query('INSERT INTO vm_resource_usage (vm_id, cpu_mhz, timestamp) VALUES ?',
      [entries.map(([, mhz], index) => [vmIds[index], mhz, new Date(timeS * 1000)])]);
  }
  const [hosts] = await connection.query<({ id: number } & import('mysql2').RowDataPacket)[]>('SELECT id FROM hosts WHERE hostname = ?', [host]);
  await connection.query('INSERT INTO host_resource_usage (host_id, cpu_mhz, timestamp) VALUES (?, ?, ?)', [hosts[0]?.id, hypervisorMhz, new Date((timeS + hostLagS) * 1000)]);
}
