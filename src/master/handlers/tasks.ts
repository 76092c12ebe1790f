import { isRcError, ProtocolError } from '../../common/errors.js';
import { createAck, createErrorFrame } from '../../protocol/codec.js';
import { MASTER_ID, type Envelope, type TaskProgressData, type TaskResultData } from '../../protocol/types.js';
import type { Connection } from '../../transport/connection.js';
import type { HandlerContext } from './context.js';

/** PROTOCOL §4.2: task news only counts from the connection the device registered on. */
function registeredDevice(conn: Connection, type: string): string {
  if (conn.deviceId === null) throw new ProtocolError('RC_ERR_DEVICE_UNKNOWN', `${type} needs a registered connection; send register first`);
  return conn.deviceId;
}

/** PROTOCOL §5.10: not acknowledged. */
export function handleTaskProgress(msg: Envelope<'task_progress', TaskProgressData>, conn: Connection, ctx: HandlerContext): void {
  ctx.tasks.onProgress(registeredDevice(conn, 'task_progress'), msg.data);
}

/** PROTOCOL §5.11: the ack goes out only once the result is on disk. */
export function handleTaskResult(msg: Envelope<'task_result', TaskResultData>, conn: Connection, ctx: HandlerContext): void {
  const deviceId = registeredDevice(conn, 'task_result');
  ctx.tasks.onResult(deviceId, msg.data, (outcome) => {
    if (isRcError(outcome)) {
      conn.send(createErrorFrame(outcome, { messageId: msg.message_id, receiver: deviceId }, MASTER_ID));
      return;
    }
    conn.send(createAck(msg, { task_id: msg.data.task_id, attempt: msg.data.attempt, ...outcome }, MASTER_ID));
  });
}

/** Replies from a worker: the only requests the master sends that expect one are task_assign. */
export function handleReply(msg: Envelope, conn: Connection, ctx: HandlerContext): void {
  if (conn.deviceId !== null) ctx.tasks.onAssignReply(conn.deviceId, msg);
}
