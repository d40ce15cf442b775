/**
 * The service's OpenAPI 3.1 document, served at `/v1/openapi.json`. A test
 * checks that every route the service has is documented here and that every
 * path documented here exists.
 */
import { AUTOMATION_LEVELS, EVENT_TYPES, NOTHING_TO_DO_REASONS, REQUEST_OUTCOMES, REQUEST_REASONS } from '../events/catalogue';
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
    400: 'Malformed input: not JSON, a wrong type, a missing or unknown field (named in `field`).',
    401: 'No bearer token.',
    403: 'The bearer token is not valid.',
    404: 'No such request.',
    409: 'The request has no plan waiting for approval.',
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
const requestId = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };

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
      + 'the JSON API under `/v1` submits requests, reads their events and outcome, and approves manual plans.',
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token whose SHA-256 is listed in `api_tokens_sha256`.' } },
    schemas: { Error: error, Event: event },
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
        responses: { 200: { description: 'The hosts, by name.' }, ...errors(401, 403) },
      },
    },
    '/v1/vms': {
      get: {
        summary: 'VMs: host, RAM, whether migrating, last utilisation',
        security: secured,
        responses: { 200: { description: 'The VMs, by id.' }, ...errors(401, 403) },
      },
    },
    '/v1/events': {
      get: {
        summary: 'Events after a position',
        security: secured,
        parameters: [
          { name: 'after', in: 'query', schema: { type: 'integer', minimum: 0, maximum: MAX_AFTER_POSITION, default: 0 } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
        ],
        responses: {
          200: {
            description: '`next` is the position to pass as `after` for the following page.',
            content: { 'application/json': { schema: { type: 'object', properties: { events: { type: 'array', items: { $ref: '#/components/schemas/Event' } }, next: { type: 'integer' } } } } },
          },
          ...errors(400, 401, 403),
        },
      },
    },
    '/v1/events/stream': {
      get: {
        summary: 'Events as Server-Sent Events: catch up after a position, then follow',
        description: 'Each message has `id` = position, `event` = type, `data` = the event as JSON. Reconnect with `Last-Event-ID`.',
        security: secured,
        parameters: [
          { name: 'after', in: 'query', schema: { type: 'integer', minimum: 0, maximum: MAX_AFTER_POSITION, default: 0 } },
          { name: 'Last-Event-ID', in: 'header', description: 'Resume after this position; overrides `after`.', schema: { type: 'integer', minimum: 0, maximum: MAX_AFTER_POSITION } },
        ],
        responses: { 200: { description: 'text/event-stream', content: { 'text/event-stream': {} } }, ...errors(400, 401, 403, 503) },
      },
    },
    '/v1/samples': {
      post: {
        summary: 'Record a utilisation sample of a host and its VMs',
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
                  hypervisorCpuMhz: { type: 'number', minimum: 0 },
                  vms: {
                    type: 'array',
                    items: {
                      type: 'object', required: ['vmId', 'cpuMhz'],
                      properties: { vmId: { type: 'string' }, cpuMhz: { type: 'number', minimum: 0 }, ramMb: { type: ['number', 'null'], minimum: 0 } },
                    },
                  },
                },
              },
            },
          },
        },
        responses: { 202: { description: 'Recorded.' }, ...errors(400, 401, 403, 413, 415, 422) },
      },
    },
    '/v1/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1' } } } },
    '/healthz': { get: { summary: 'Liveness: the log position and queue depth', responses: { 200: { description: 'Up.' } } } },
    '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'text/plain; version=0.0.4' } } } },
  },
} as const;
