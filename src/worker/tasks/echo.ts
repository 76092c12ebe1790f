import { builtinPayloadSchema } from '../../protocol/task-payloads.js';
import type { TaskTypeDefinition } from './types.js';

/** `echo {message}`: the output is the message. The smallest task there is, for smoke tests. */
export const echoTask: TaskTypeDefinition = {
  name: 'echo',
  payloadSchema: builtinPayloadSchema('echo'),
  run(ctx) {
    ctx.output.write('stdout', ctx.payload['message'] as string);
    return Promise.resolve({ exit_code: 0, error: null });
  },
};
