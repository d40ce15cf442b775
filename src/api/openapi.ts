/**
 * The service's OpenAPI 3.1 document, served at `/v1/openapi.json`. A test
 * checks that every route the service has is documented here and that every
 * path documented here exists.
 */
import { AUTOMATION_LEVELS, EVENT_TYPES, NOTHING_TO_DO_REASONS, REQUEST_OUTCOMES, REQUEST_REASONS } from '../events/catalogue';
import { POWER_STATES } from '../events/dataCentre';
import { CODE_VERSION } from '../version';
import { MAX_AFTER_POSITION } from './http';

const error = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['status', 'message', 'field'],
      properties: {
        status: { type: 'integer' },
        message: { type: 'string' },
        field: { type: ['string', 'null'], description: 'The field of the input the error is about, e.g. `host` or `vmIds[2]`.' },
      },
    },
  },
} as const;

function errors(...statuses: number[]): Record<string, unknown> {
  const texts: Record<number, string> = {
    400: 'Malformed input: not JSON, a wrong type, a missing or unknown field, a bad query parameter (named in `field`), '
      + 'or a body cut short or sent in a transfer coding other than `chunked`.',
    401: 'No bearer token.',
    403: 'The bearer token is not valid.',
    404: 'Nothing has this id: no such request, or for /v1/vms/{id} no such VM.',
    409: 'The request has no plan waiting for approval: it is queued, executing or completed, or was refused; the message says which.',
    413: 'The body is larger than `api_body_limit_bytes`.',
    415: 'The body is not `application/json`.',
    422: 'Well-formed, but names an unknown host or VM.',
    503: 'The request queue is full; retry after `Retry-After` seconds.',
  };
  return Object.fromEntries(statuses.map((status) => [String(status), {
    description: texts[status],
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  }]));
}

const secured = [{ bearer: [] }];
const typeList = { type: 'string', description: `Comma-separated names of event types: ${EVENT_TYPES.join(', ')}. An unknown name is a 400 naming it.` };
const typeFilters = [
  { name: 'types', in: 'query', description: 'Only events of these types. Not with `exclude`.', schema: typeList },
  { name: 'exclude', in: 'query', description: 'Every event but those of these types. Not with `types`.', schema: typeList },
];
const requestId = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };

const host = {
  type: 'object',
  required: ['name', 'power', 'enabled', 'cpuMhz', 'ramMb', 'vms', 'lastCpuMhz', 'lastPowerError', 'lastSampleAtMs', 'lastSampleAgeS', 'stale'],
  properties: {
    name: { type: 'string' },
    power: { type: 'string', enum: POWER_STATES },
    enabled: { type: 'boolean', description: 'False while the cloud does not schedule onto the host (maintenance).' },
    cpuMhz: { type: ['number', 'null'] },
    ramMb: { type: ['number', 'null'] },
    vms: { type: 'integer', description: 'VMs the log has on the host.' },
    lastCpuMhz: { type: ['number', 'null'], description: 'Total CPU of the last sample, to the kHz; null before any.' },
    lastPowerError: { type: ['string', 'null'] },
    lastSampleAtMs: { type: ['number', 'null'], description: 'When the last sample of the host was recorded, ms since the epoch (of the run, in a simulation); null before any.' },
    lastSampleAgeS: { type: ['number', 'null'], minimum: 0, description: 'Age of that sample, by the manager\'s clock at this request; null before any.' },
    stale: {
      type: 'boolean',
      description: 'Up, and neither sampled nor come up (first seen up, woken, reported up again) within `sample_max_age_s`, '
        + 'by the manager\'s clock at this request. A stale host is never a placement target, but may be suspended when it holds no VMs. '
        + 'A host that is not up is never stale.',
    },
  },
} as const;

const viewPosition = {
  type: 'integer', minimum: 0,
  description: 'The position of the last event the list reflects: a reader of `/v1/events/stream` after it misses nothing and counts nothing twice.',
} as const;

const event = {
  type: 'object',
  required: ['position', 'id', 'stream', 'revision', 'type', 'version', 'data', 'metadata'],
  properties: {
    position: { type: 'integer', minimum: 1, description: 'Gap-free, from 1.' },
    id: { type: 'string', format: 'uuid' },
    stream: { type: 'string' },
    revision: { type: 'integer', minimum: 0 },
    type: { type: 'string', enum: EVENT_TYPES },
    version: { type: 'integer' },
    data: { type: 'object', description: 'As the event type defines it (src/events/catalogue.ts).' },
    metadata: {
      type: 'object',
      properties: {
        correlationId: { type: ['string', 'null'], description: 'The request the event serves.' },
        causationId: { type: ['string', 'null'] },
        timeMs: { type: 'number' },
        source: { type: 'string' },
      },
    },
  },
} as const;

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'neat-next global manager',
    version: CODE_VERSION,
    description: 'Event-sourced VM consolidation. `PUT /` is OpenStack Neat\'s local-manager protocol, unchanged; '
      + 'the JSON API under `/v1` submits requests, reads their events and outcome, and approves manual plans. '
      + 'A method a path does not take is a 405 with `Allow`; a path the service does not have, a 404. '
      + 'The requests endpoints (`PUT /`, `POST /v1/requests`) record every refusal as a `RequestRejected` event; '
      + 'the other endpoints answer 4xx without recording.',
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token whose SHA-256 is listed in `api_tokens_sha256`.' } },
    schemas: { Error: error, Event: event, Host: host },
  },
  paths: {
    '/': {
      put: {
        summary: 'Neat\'s local-manager request (form-encoded)',
        description: 'Checked in Neat\'s order: 401 (credentials missing), 403 (wrong SHA-1 digests), 400 (bad parameters), '
          + '412 (older than `request_staleness_s`). 200 with an empty body once the request is durably recorded. '
          + 'Bodies are `text/html` with Neat\'s message texts.',
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                required: ['username', 'password', 'time', 'host', 'reason'],
                properties: {
                  username: { type: 'string', description: 'SHA-1 hex of `os_admin_user`.' },
                  password: { type: 'string', description: 'SHA-1 hex of `os_admin_password`.' },
                  time: { type: 'number', description: 'The client\'s clock, seconds since the epoch.' },
                  host: { type: 'string' },
                  reason: { type: 'integer', enum: [0, 1], description: '0 underload, 1 overload.' },
                  vm_uuids: { type: 'string', description: 'Comma-separated VM ids; required with reason 1.' },
                },
              },
            },
          },
        },
        responses: {
          200: { description: 'Recorded; the plan runs afterwards.' },
          400: { description: 'Bad input parameter: incorrect or missing parameters' },
          401: { description: 'Unauthorized: user credentials are missing' },
          403: { description: 'Forbidden: user credentials do not much the ones specified in the configuration file' },
          405: { description: 'Any method other than PUT.' },
          412: { description: 'Precondition failed: the request has been sent more than 5 seconds ago, …' },
          413: { description: 'The body is larger than `api_body_limit_bytes`.' },
          503: { description: 'The request queue is full; see `Retry-After`.' },
        },
      },
    },
    '/v1/requests': {
      post: {
        summary: 'Submit an underload or overload request',
        description: 'Every refusal (400, 401, 403, 413, 415, 422, 503) is recorded as a `RequestRejected` event of protocol `json`, '
          + 'readable at `/v1/requests/{id}` and counted in `/metrics`, as `PUT /` records its own.',
        security: secured,
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['host', 'reason'],
                additionalProperties: false,
                properties: {
                  host: { type: 'string' },
                  reason: { type: 'string', enum: REQUEST_REASONS },
                  vmIds: { type: 'array', items: { type: 'string' }, description: 'The VMs to move; required for an overload.' },
                },
              },
            },
          },
        },
        responses: {
          202: {
            description: 'Recorded and queued. `Location` points at the request.',
            content: { 'application/json': { schema: { type: 'object', properties: { requestId: { type: 'string' }, supersedes: { type: ['string', 'null'] } } } } },
          },
          ...errors(400, 401, 403, 413, 415, 422, 503),
        },
      },
    },
    '/v1/requests/{id}': {
      get: {
        summary: 'A request, its state and all its events',
        security: secured,
        parameters: [requestId],
        responses: {
          200: {
            description: 'The request folded from its events.',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    request: {
                      type: ['object', 'null'],
                      properties: {
                        status: { type: 'string', enum: ['queued', 'recommended', 'executing', 'completed'] },
                        plan: { type: ['object', 'null'], properties: { automation: { type: 'string', enum: AUTOMATION_LEVELS } } },
                        nothingToDo: { type: ['object', 'null'], properties: { reason: { type: 'string', enum: NOTHING_TO_DO_REASONS } } },
                        outcome: { type: ['object', 'null'], properties: { outcome: { type: 'string', enum: REQUEST_OUTCOMES } } },
                      },
                    },
                    rejection: { type: ['object', 'null'], description: 'Set when the request was refused at the door.' },
                    events: { type: 'array', items: { $ref: '#/components/schemas/Event' } },
                  },
                },
              },
            },
          },
          ...errors(401, 403, 404),
        },
      },
    },
    '/v1/requests/{id}/approve': {
      post: {
        summary: 'Approve a recommended plan (automation `manual`); it runs next',
        security: secured,
        parameters: [requestId],
        requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', properties: { reason: { type: 'string' } } } } } },
        responses: { 200: { description: 'Approved and queued.' }, ...errors(400, 401, 403, 404, 409, 503) },
      },
    },
    '/v1/requests/{id}/reject': {
      post: {
        summary: 'Reject a recommended plan; the request completes as `rejected`',
        security: secured,
        parameters: [requestId],
        requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', properties: { reason: { type: 'string' } } } } } },
        responses: { 200: { description: 'Rejected.' }, ...errors(400, 401, 403, 404, 409) },
      },
    },
    '/v1/hosts': {
      get: {
        summary: 'Managed hosts: power state, capacity, VM count, last utilisation',
        security: secured,
        responses: {
          200: {
            description: 'The hosts, in natural order of names (host-2 before host-10).',
            content: {
              'application/json': {
                schema: {
                  type: 'object', required: ['hosts', 'position'],
                  properties: { hosts: { type: 'array', items: { $ref: '#/components/schemas/Host' } }, position: viewPosition },
                },
              },
            },
          },
          ...errors(401, 403),
        },
      },
    },
    '/v1/vms': {
      get: {
        summary: 'VMs: host, RAM, whether migrating, last utilisation',
        security: secured,
        responses: { 200: { description: 'The VMs (`vms`), in natural order of ids; `lastCpuMhz` to the kHz; `position` as in `/v1/hosts`.' }, ...errors(401, 403) },
      },
    },
    '/v1/vms/{id}': {
      get: {
        summary: "One VM with its whole CPU history: what an agent continues when the VM arrives on its host (Neat's collector read it from its database)",
        description: '`reported` is false for a VM only samples have named so far (the cloud has not reported it yet); '
          + '`cpuMhzHistory` holds the last `data_collector_data_length` values, oldest first, in MHz.',
        security: secured,
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          200: {
            description: 'The VM.',
            content: {
              'application/json': {
                schema: {
                  type: 'object', required: ['id', 'reported', 'host', 'ramMb', 'vcpus', 'migrating', 'cpuMhzHistory'],
                  properties: {
                    id: { type: 'string' }, reported: { type: 'boolean' }, host: { type: ['string', 'null'] }, ramMb: { type: ['number', 'null'] },
                    vcpus: { type: ['integer', 'null'] }, migrating: { type: 'boolean' }, cpuMhzHistory: { type: 'array', items: { type: 'number', minimum: 0 } },
                  },
                },
              },
            },
          },
          ...errors(401, 403, 404),
        },
      },
    },
    '/v1/events': {
      get: {
        summary: 'Events after a position',
        description: 'A page reads the log after `after` until it holds `limit` events of the selected types, or has read 10 000 events, '
          + 'or reaches the end: with `types` or `exclude`, a page may hold fewer than `limit` events, even none, before the end.',
        security: secured,
        parameters: [
          { name: 'after', in: 'query', schema: { type: 'integer', minimum: 0, maximum: MAX_AFTER_POSITION, default: 0 } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
          ...typeFilters,
        ],
        responses: {
          200: {
            description: '`next` is the position the page read up to, to pass as `after` for the following page; '
              + 'the log has been read to its end when `next` equals `after`.',
            content: { 'application/json': { schema: { type: 'object', properties: { events: { type: 'array', items: { $ref: '#/components/schemas/Event' } }, next: { type: 'integer' } } } } },
          },
          ...errors(400, 401, 403),
        },
      },
    },
    '/v1/events/stream': {
      get: {
        summary: 'Events as Server-Sent Events: catch up after a position, then follow',
        description: 'Each message has `id` = position, `event` = type, `data` = the event as JSON; the stream opens with a comment '
          + 'naming the position it follows. Reconnect with `Last-Event-ID`. To follow only what happens from now on, without '
          + 'the utilisation samples: `?exclude=UtilizationSampled,DataCentreUpdated&from=end`.',
        security: secured,
        parameters: [
          { name: 'after', in: 'query', description: 'Start after this position. Not with `from`.', schema: { type: 'integer', minimum: 0, maximum: MAX_AFTER_POSITION, default: 0 } },
          { name: 'from', in: 'query', description: '`end`: start after the last event recorded so far, following only new events. Not with `after`.', schema: { type: 'string', enum: ['end'] } },
          ...typeFilters,
          {
            name: 'Last-Event-ID', in: 'header', description: 'Resume after this position, as a reconnecting EventSource does; wins over `after` and `from`.',
            schema: { type: 'integer', minimum: 0, maximum: MAX_AFTER_POSITION },
          },
        ],
        responses: { 200: { description: 'text/event-stream', content: { 'text/event-stream': {} } }, ...errors(400, 401, 403, 503) },
      },
    },
    '/v1/samples': {
      post: {
        summary: 'Record a utilisation sample of a host and its VMs',
        description: 'The sample is recorded as sent. Entries naming a VM the cloud has not reported never create a VM: their '
          + 'values are held aside and become the VM\'s history once the cloud reports it (an agent sees a new VM before the '
          + 'manager\'s next inventory does); the answer names them in `unreportedVmIds`, and `/metrics` counts them '
          + '(`neat_vm_samples_unreported_total`). An unknown host is a 422. Refusals are not recorded.',
        security: secured,
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['host', 'vms'],
                properties: {
                  host: { type: 'string' },
                  hypervisorCpuMhz: { type: 'number', minimum: 0, maximum: 10_000_000 },
                  vms: {
                    type: 'array',
                    items: {
                      type: 'object', required: ['vmId', 'cpuMhz'],
                      properties: {
                        vmId: { type: 'string' }, cpuMhz: { type: 'number', minimum: 0, maximum: 10_000_000 },
                        ramMb: { type: ['number', 'null'], minimum: 0, maximum: 1_000_000_000 },
                      },
                    },
                  },
                },
              },
            },
          },
        },
        responses: {
          202: {
            description: 'Recorded.',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['host', 'vms', 'unreportedVmIds'],
                  properties: {
                    host: { type: 'string' },
                    vms: { type: 'integer', description: 'Entries recorded.' },
                    unreportedVmIds: { type: 'array', items: { type: 'string' }, description: 'VMs the cloud has not reported: recorded, held aside until it does.' },
                  },
                },
              },
            },
          },
          ...errors(400, 401, 403, 413, 415, 422),
        },
      },
    },
    '/v1/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1' } } } },
    '/healthz': {
      get: {
        summary: 'Liveness: the role (leader or standby), the log position and queue depth',
        description: 'A standby of a highly available deployment (several instances on one PostgreSQL log) says `role: standby` and the '
          + 'leader it knows of (`leader`, a URL, or null); it answers every read from the log it follows, and a write with a 307 to the leader '
          + '(or a 503 with `Retry-After` while no leader is known).',
        responses: { 200: { description: 'Up.' } },
      },
    },
    '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'text/plain; version=0.0.4' } } } },
    '/ui': {
      get: {
        summary: 'The live dashboard: hosts by power state, the last requests, migrations, queue depth, decision latency',
        description: 'One self-contained HTML page (its script and style inline, allowed by their SHA-256 in its Content-Security-Policy, '
          + 'which allows connections to this origin only). It asks for a bearer token once, keeps it in the tab\'s session storage and '
          + 'sends it in the `Authorization` header, never in a URL; it reads `/healthz`, `/v1/hosts` and `/v1/vms`, then follows '
          + '`/v1/events/stream`, reconnecting with backoff from the last position it saw. The page itself needs no token.',
        responses: { 200: { description: 'text/html', content: { 'text/html': {} } } },
      },
    },
  },
} as const;
