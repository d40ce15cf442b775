/**
 * The agent's side of the global manager's API: samples to `POST
 * /v1/samples` (bearer token), requests to `PUT /` in Neat's own form (SHA-1
 * of the admin credentials, as Neat's local manager sends them), and a VM's
 * history from `GET /v1/vms/{id}`. One call each (through one redirect from a
 * standby to the leader), no retries: what to retry is the caller's (the
 * sample outbox retries, a request is not repeated).
 */
import type { Clock } from '../clock';
import { exchange } from '../drivers/http';
import type { HttpAnswer } from '../drivers/http';
import type { EventData } from '../events/catalogue';

export interface ManagerClientOptions {
  /** The manager's base URL, without a trailing slash (`global_manager_url`). */
  readonly baseUrl: string;
  /** A bearer token of the JSON API (`agent_api_token`); null sends none, and the manager answers 401. */
  readonly token: string | null;
  /** SHA-1 hex of `os_admin_user` and `os_admin_password`. */
  readonly credentials: { readonly username: string; readonly password: string };
  readonly timeoutMs: number;
  /** Neat's `time` field of a request: the manager refuses one older than its staleness window. */
  readonly clock: Clock;
}

export class ManagerClient {
  private readonly aborted = new AbortController();

  constructor(private readonly options: ManagerClientOptions) {}

  postSample(sample: EventData<'UtilizationSampled'>): Promise<HttpAnswer> {
    return this.send('POST', '/v1/samples', { body: sample, headers: this.bearer() });
  }

  putRequest(host: string, reason: 'underload' | 'overload', vmIds: readonly string[]): Promise<HttpAnswer> {
    const { credentials, clock } = this.options;
    const form = new URLSearchParams({
      username: credentials.username, password: credentials.password, time: String(clock.nowMs() / 1000), host,
      reason: reason === 'underload' ? '0' : '1',
    });
    if (reason === 'overload') form.set('vm_uuids', vmIds.join(','));
    return this.send('PUT', '/', { form, headers: {} });
  }

  getVm(vmId: string): Promise<HttpAnswer> {
    return this.send('GET', `/v1/vms/${encodeURIComponent(vmId)}`, { headers: this.bearer() });
  }

  /** Abandons every exchange on its way (each fails with a TransportError); the client is not used after. */
  close(): void {
    this.aborted.abort();
  }

  get closed(): boolean {
    return this.aborted.signal.aborted;
  }

  private bearer(): Record<string, string> {
    return this.options.token === null ? {} : { authorization: `Bearer ${this.options.token}` };
  }

  /**
   * Follows one 307 from a standby of a highly available manager to its
   * leader (docs/ha.md), with the same method, body and token: the standby is
   * of the same deployment, and the token is what the leader checks.
   */
  private async send(method: 'GET' | 'POST' | 'PUT', path: string, what: { body?: unknown; form?: URLSearchParams; headers: Record<string, string> }): Promise<HttpAnswer> {
    const to = (url: URL): Promise<HttpAnswer> => exchange({
      method, url, headers: what.headers, body: what.body, form: what.form, timeoutMs: this.options.timeoutMs, ca: null, signal: this.aborted.signal,
    });
    const url = new URL(this.options.baseUrl + path);
    const answer = await to(url);
    const location = answer.status === 307 ? answer.headers.location : undefined;
    if (location === undefined) return answer;
    const leader = new URL(location, url);
    return leader.protocol === 'http:' || leader.protocol === 'https:' ? to(leader) : answer;
  }
}

/** The server's own message in an error answer (our API's `{"error": …}`, or Neat's text), for a log line. */
export function answerMessage(answer: HttpAnswer): string {
  try {
    const parsed = JSON.parse(answer.text) as { error?: { message?: unknown } };
    if (typeof parsed.error?.message === 'string') return parsed.error.message;
  } catch {
    // Not JSON: Neat's protocol answers text.
  }
  return answer.text.trim().slice(0, 500);
}

/** The `cpuMhzHistory` of a `GET /v1/vms/{id}` answer, or null when it has none. */
export function historyOf(text: string): number[] | null {
  try {
    const parsed = JSON.parse(text) as { cpuMhzHistory?: unknown };
    const history = parsed.cpuMhzHistory;
    if (Array.isArray(history) && history.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0)) return history as number[];
  } catch {
    // Not JSON: no history; the caller says what that means.
  }
  return null;
}
