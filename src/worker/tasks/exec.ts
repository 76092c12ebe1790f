import { runProcess } from '../process-tree.js';
import { builtinPayloadSchema } from '../../protocol/task-payloads.js';
import type { TaskTypeDefinition } from './types.js';

interface ExecPayload {
  command: string[];
  cwd?: string;
  env?: Record<string, string>;
  stdin?: string;
}

/** `exec {command, cwd?, env?, stdin?}`: one program, no shell, so arguments need no quoting. */
export const execTask: TaskTypeDefinition = {
  name: 'exec',
  payloadSchema: builtinPayloadSchema('exec'),
  run(ctx) {
    const { command, cwd, env, stdin } = ctx.payload as unknown as ExecPayload;
    const [program = '', ...args] = command;
    return runProcess({ command: program, args, cwd, env, stdin, signal: ctx.signal, output: ctx.output, killGraceMs: ctx.killGraceMs });
  },
};
