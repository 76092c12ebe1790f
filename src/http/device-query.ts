import { compareDeviceIds, type DeviceFilter } from '../master/registry.js';
import type { DeviceState } from '../store/store.js';
import { badRequest, intParam, listParam, oneParam, type RawQuery } from './query-params.js';

const STATES: readonly string[] = ['online', 'suspect', 'offline', 'all'];

/** The filters /text/devices and /api/v1/devices share. */
export const DEVICE_FILTER_PARAMS = ['status', 'role', 'tag', 'device_id'] as const;

/**
 * `status` (liveness: online|suspect|offline|all), `role`, `tag` (repeatable
 * or a comma list: the device carries all of them) and `device_id` (exact).
 */
export function parseDeviceFilter(query: RawQuery): DeviceFilter {
  const status = oneParam(query, 'status') ?? 'all';
  if (!STATES.includes(status)) throw badRequest(`status must be one of ${STATES.join(', ')}`);
  const role = oneParam(query, 'role');
  const tags = listParam(query, 'tag');
  const deviceId = oneParam(query, 'device_id');
  return {
    state: status as DeviceState | 'all',
    ...(role === undefined ? {} : { role }),
    ...(tags === undefined ? {} : { tags }),
    ...(deviceId === undefined ? {} : { device_id: deviceId }),
  };
}

export interface DevicePage {
  limit: number;
  /** Start after this device id (keyset cursor)… */
  after?: string;
  /** …or skip this many devices; never both. */
  offset: number;
}

export const PAGE_PARAMS = ['limit', 'offset', 'after'] as const;
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

export function parseDevicePage(query: RawQuery): DevicePage {
  const limit = intParam(query, 'limit', { min: 1, max: MAX_PAGE_SIZE }) ?? DEFAULT_PAGE_SIZE;
  const offset = intParam(query, 'offset', { min: 0, max: Number.MAX_SAFE_INTEGER });
  const after = oneParam(query, 'after');
  if (offset !== undefined && after !== undefined) throw badRequest('give offset or after, not both');
  return { limit, offset: offset ?? 0, ...(after === undefined ? {} : { after }) };
}

/** One page of a list sorted by compareDeviceIds; `nextAfter` is null on the last page. */
export function pageDevices<T extends { device_id: string }>(sorted: readonly T[], page: DevicePage): { items: T[]; nextAfter: string | null } {
  const start = page.after === undefined ? page.offset : firstAfter(sorted, page.after);
  const items = sorted.slice(start, start + page.limit);
  const last = items.at(-1);
  const hasMore = start + items.length < sorted.length;
  return { items, nextAfter: hasMore && last !== undefined ? last.device_id : null };
}

/** Index of the first device ordered after `id` (which need not exist any more). */
function firstAfter(sorted: readonly { device_id: string }[], id: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareDeviceIds(sorted[mid]!.device_id, id) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
