import type { Logger } from '../../common/logger.js';
import type { Store } from '../../store/store.js';
import type { Connection } from '../../transport/connection.js';
import type { DeviceRegistry } from '../registry.js';
import type { Enrolment } from '../enrolment.js';
import type { TaskService } from '../tasks/task-service.js';

/** What every wire handler may use; built once by the master (dependency injection). */
export interface HandlerContext {
  registry: DeviceRegistry;
  store: Store;
  log: Logger;
  tasks: TaskService;
  enrolment: Enrolment;
  /** --insecure: legacy peers may heartbeat without a registered connection. */
  insecure: boolean;
  heartbeatIntervalS: number;
  /** Bind a device to the connection it registered on (replacing a stale one). */
  attachDevice(deviceId: string, conn: Connection): void;
}
