import { ProtocolError } from '../../common/errors.js';
import type {
  DeviceInfoData,
  Envelope,
  HeartbeatData,
  ListDevicesData,
  MessageType,
  RegisterData,
  TaskProgressData,
  TaskResultData,
} from '../../protocol/types.js';
import type { Connection } from '../../transport/connection.js';
import type { HandlerContext } from './context.js';
import { handleHeartbeat } from './heartbeat.js';
import { handleDeviceInfo, handleListDevices, handleStatus } from './queries.js';
import { handleRegister } from './register.js';
import { handleReply, handleTaskProgress, handleTaskResult } from './tasks.js';

export type { HandlerContext } from './context.js';

/** The schema validated `data` already; this only tells TypeScript what it proved. */
function validated<T extends MessageType, D>(msg: Envelope): Envelope<T, D> {
  return msg as unknown as Envelope<T, D>;
}

/**
 * Route one validated message. The data has passed its schema, so the casts
 * below only narrow what ajv already proved (PROTOCOL §5).
 */
export function handleMessage(msg: Envelope, conn: Connection, ctx: HandlerContext): void {
  const type = msg.message_type;
  switch (type) {
    case 'register':
      return handleRegister(validated<'register', RegisterData>(msg), conn, ctx);
    case 'heartbeat':
      return handleHeartbeat(validated<'heartbeat', HeartbeatData>(msg), conn, ctx);
    case 'status':
      return handleStatus(validated<'status', { role?: string }>(msg), conn, ctx);
    case 'list_devices':
      return handleListDevices(validated<'list_devices', ListDevicesData>(msg), conn, ctx);
    case 'device_info':
      return handleDeviceInfo(validated<'device_info', DeviceInfoData>(msg), conn, ctx);
    case 'ack':
    case 'error':
      return handleReply(msg, conn, ctx);
    case 'task_result':
      return handleTaskResult(validated<'task_result', TaskResultData>(msg), conn, ctx);
    case 'task_progress':
      return handleTaskProgress(validated<'task_progress', TaskProgressData>(msg), conn, ctx);
    case 'task_assign':
    case 'task_cancel':
      throw new ProtocolError('RC_ERR_PROTO_UNEXPECTED', `${type} is sent by the master, never to it`);
    default: {
      const unreachable: never = type;
      throw new ProtocolError('RC_ERR_PROTO_UNKNOWN_TYPE', `unknown message_type ${String(unreachable)}`);
    }
  }
}
