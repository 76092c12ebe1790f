import { ProtocolError } from '../../common/errors.js';
import type { Envelope } from '../../protocol/types.js';
import type { Connection } from '../../transport/connection.js';
import type { HandlerContext } from './context.js';
import { handleHeartbeat } from './heartbeat.js';
import { handleDeviceInfo, handleListDevices, handleStatus } from './queries.js';
import { handleRegister } from './register.js';
import { handleReply, handleTaskProgress, handleTaskResult } from './tasks.js';

export type { HandlerContext } from './context.js';

/**
 * Route one validated message. The data has passed its schema, so the casts
 * below only narrow what ajv already proved (PROTOCOL §5).
 */
export function handleMessage(msg: Envelope, conn: Connection, ctx: HandlerContext): void {
  const type = msg.message_type;
  switch (type) {
    case 'register':
      return handleRegister(msg as Envelope<'register', never>, conn, ctx);
    case 'heartbeat':
      return handleHeartbeat(msg as Envelope<'heartbeat', never>, conn, ctx);
    case 'status':
      return handleStatus(msg as Envelope<'status', never>, conn, ctx);
    case 'list_devices':
      return handleListDevices(msg as Envelope<'list_devices', never>, conn, ctx);
    case 'device_info':
      return handleDeviceInfo(msg as Envelope<'device_info', never>, conn, ctx);
    case 'ack':
    case 'error':
      return handleReply(msg, conn, ctx);
    case 'task_result':
      return handleTaskResult(msg as Envelope<'task_result', never>, conn, ctx);
    case 'task_progress':
      return handleTaskProgress(msg as Envelope<'task_progress', never>, conn, ctx);
    case 'task_assign':
    case 'task_cancel':
      throw new ProtocolError('RC_ERR_PROTO_UNEXPECTED', `${type} is sent by the master, never to it`);
    default: {
      const unreachable: never = type;
      throw new ProtocolError('RC_ERR_PROTO_UNKNOWN_TYPE', `unknown message_type ${String(unreachable)}`);
    }
  }
}
