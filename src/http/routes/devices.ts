import type { FastifyInstance } from 'fastify';
import { RcError } from '../../common/errors.js';
import { formatViolations, schemaFileValidator } from '../../protocol/schemas.js';
import type { DeviceRecord } from '../../store/store.js';
import { toApiDevice, toDeviceEventJson, toHeartbeatJson, type ApiDevice } from '../device-json.js';
import { DEVICE_FILTER_PARAMS, PAGE_PARAMS, pageDevices, parseDeviceFilter, parseDevicePage } from '../device-query.js';
import { assertKnownParams, intParam, type RawQuery } from '../query-params.js';
import type { HttpDeps } from '../server.js';

const DEFAULT_RECENT = 20;
const MAX_RECENT = 500;
const LIST_PARAMS = [...DEVICE_FILTER_PARAMS, ...PAGE_PARAMS];

const validateDrainBody = schemaFileValidator('http/device_drain.schema.json');

interface DrainBody {
  reason?: string;
}

/** /api/v1/devices, /api/v1/devices/:id, drain, undrain and revoke. */
export function registerDeviceRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get<{ Querystring: RawQuery }>('/api/v1/devices', async (req) => listDevices(deps, req.query));
  app.get<{ Params: { id: string }; Querystring: RawQuery }>('/api/v1/devices/:id', async (req) => {
    assertKnownParams(req.query, ['limit']);
    const limit = intParam(req.query, 'limit', { min: 1, max: MAX_RECENT }) ?? DEFAULT_RECENT;
    const device = findDevice(deps, req.params.id);
    return {
      ...toApiDevice(device, deps),
      recent_heartbeats: deps.store.recentHeartbeats(device.device_id, limit).map(toHeartbeatJson),
      recent_events: deps.store.recentDeviceEvents(device.device_id, limit).map(toDeviceEventJson),
    };
  });
  app.post<{ Params: { id: string } }>('/api/v1/devices/:id/revoke', { preHandler: deps.requireWrite }, async (req) => {
    const device = findDevice(deps, req.params.id);
    deps.revokeDevice(device.device_id);
    return { ...toApiDevice(device, deps), revoked: true };
  });
  for (const [action, drained] of [['drain', true], ['undrain', false]] as const) {
    app.post<{ Params: { id: string } }>(`/api/v1/devices/:id/${action}`, { preHandler: deps.requireWrite }, async (req) =>
      setDrained(deps, req.params.id, drained, parseDrainBody(req.body)),
    );
  }
}

function listDevices(deps: HttpDeps, query: RawQuery): { devices: ApiDevice[]; count: number; total: number; next_after: string | null } {
  assertKnownParams(query, LIST_PARAMS);
  const filter = parseDeviceFilter(query);
  const page = parseDevicePage(query);
  const matching = deps.registry.list(filter);
  const { items, nextAfter } = pageDevices(matching, page);
  return { devices: items.map((d) => toApiDevice(d, deps)), count: items.length, total: matching.length, next_after: nextAfter };
}

/**
 * The flag is persisted before the answer. Dispatch runs again either way:
 * undraining frees the device for queued tasks, and draining changes why a
 * task pinned to it waits.
 */
function setDrained(deps: HttpDeps, id: string, drained: boolean, body: DrainBody): ApiDevice {
  const device = findDevice(deps, id);
  deps.registry.setDrained(device.device_id, drained, body.reason ?? null);
  deps.tasks.scheduleDispatch();
  return toApiDevice(device, deps);
}

/** No body at all is the same as `{}`. */
function parseDrainBody(body: unknown): DrainBody {
  if (body === undefined) return {};
  const violations = validateDrainBody(body);
  if (violations.length === 0) return body as DrainBody;
  const message = formatViolations(violations);
  throw new RcError('RC_ERR_HTTP_BAD_REQUEST', `invalid body: ${message}`, { status: 400, details: violations });
}

function findDevice(deps: HttpDeps, id: string): DeviceRecord {
  const device = deps.registry.get(id);
  if (!device) throw new RcError('RC_ERR_NOT_FOUND', `no device with id ${id}`, { status: 404 });
  return device;
}
