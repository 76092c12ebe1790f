import { ProtocolError } from '../../common/errors.js';
import { createAck } from '../../protocol/codec.js';
import { MASTER_ID, type Envelope, type HeartbeatData } from '../../protocol/types.js';
import type { Connection } from '../../transport/connection.js';
import { normalizeMetrics } from '../normalize.js';
import type { HandlerContext } from './context.js';

/** PROTOCOL §5.2: record metrics; an unknown device is told to register again. */
export function handleHeartbeat(msg: Envelope<'heartbeat', HeartbeatData>, conn: Connection, ctx: HandlerContext): void {
  const claimed = msg.data.device_id ?? msg.sender_id;
  if (conn.deviceId !== null && claimed !== conn.deviceId) {
    throw new ProtocolError('RC_ERR_DEVICE_ID_MISMATCH', `this connection is registered as ${conn.deviceId}, not ${claimed}`);
  }
  if (conn.deviceId === null && !ctx.insecure) {
    // PROTOCOL §4.8: only the connection that proved who it is may speak for a device.
    const err = new ProtocolError('RC_ERR_AUTH_REQUIRED', `heartbeat for ${claimed} on a connection that did not register; register first (one-shot heartbeats need --insecure)`);
    conn.refuse(err, msg.message_id);
    return;
  }
  const deviceId = conn.deviceId ?? claimed;
  if (!ctx.registry.heartbeat(deviceId, normalizeMetrics(msg.data.metrics))) {
    throw new ProtocolError('RC_ERR_DEVICE_UNKNOWN', `device ${deviceId} is not registered; send register first`);
  }
  // A quiet heartbeat (PROTOCOL §5.2) saves the socket write that is most of its cost.
  if (msg.data.reply === false) return;
  conn.send(createAck(msg, { heartbeat_interval: ctx.heartbeatIntervalS }, MASTER_ID));
}
