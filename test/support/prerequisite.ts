/**
 * What a test needs from outside the project (the shared PlanetLab traces,
 * CloudSim's measured table, sshd, virsh, strace). Missing, it is a loud skip
 * on a developer's machine and a failure on CI (`CI=true`): a test whose data
 * or tool is absent never passes without checking anything.
 */

/** Whether `what` is present; when it is not, says so loudly (and throws on CI) naming `remedy`. */
export function prerequisite(what: string, present: boolean, remedy: string): boolean {
  if (present) return true;
  const missing = `${what} is missing (${remedy})`;
  if (process.env.CI === 'true') throw new Error(`${missing}: on CI a missing prerequisite fails the tests instead of skipping them`);
  console.warn(`\n*** skipped: ${missing} ***\n`);
  return false;
}
