import { setTimeout as delay } from 'node:timers/promises';
import { builtinPayloadSchema } from '../../protocol/task-payloads.js';
import type { TaskTypeDefinition } from './types.js';

/** `sleep {seconds}`: waits, and stops at once on cancel or timeout. */
export const sleepTask: TaskTypeDefinition = {
  name: 'sleep',
  payloadSchema: builtinPayloadSchema('sleep'),
  async run(ctx) {
    const ms = (ctx.payload['seconds'] as number) * 1000;
    try {
      await delay(ms, undefined, { signal: ctx.signal });
      return { exit_code: 0, error: null };
    } catch {
      return { exit_code: null, error: 'aborted' };
    }
  },
};
