/**
 * Child process of the serve tests: `neat serve`'s signal handling around a
 * stop that never finishes, so that the second signal and the stop deadline
 * can be seen (a real stop takes a few milliseconds, and two signals sent
 * together arrive as one). Prints `READY` once the handlers are installed.
 */
import { firstSignal, stopWithin } from '../../src/cli/console';
import { serveLog, timeOfDay } from '../../src/cli/serveLog';

const log = serveLog({
  format: 'text', verbosity: 'normal', timeLabel: timeOfDay,
  io: { out: (text) => process.stdout.write(`${text}\n`), err: (text) => process.stderr.write(`${text}\n`) },
});
// What a service's sockets do: keep the process alive while it stops.
setInterval(() => undefined, 1000);
void firstSignal(log).then(() => stopWithin(log, () => new Promise<void>(() => undefined)));
process.stdout.write('READY\n');
