import { runProcess } from '../process-tree.js';
import { builtinPayloadSchema } from '../../protocol/task-payloads.js';
import { workDirEnv } from '../task-sandbox.js';
import type { TaskTypeDefinition } from './types.js';

interface ExecPayload {
  command: string[];
  cwd?: string;
  env?: Record<string, string>;
  stdin?: string;
}

/**
 * `exec {command, cwd?, env?, stdin?}`: one program, no shell, so arguments need no quoting.
 * It runs in the task's work dir unless the payload names a cwd; the payload's env comes last, so it wins.
 */
export const execTask: TaskTypeDefinition = {
  name: 'exec',
  payloadSchema: builtinPayloadSchema('exec'),
  run(ctx) {
    const { command, cwd, env, stdin } = ctx.payload as unknown as ExecPayload;
    const [program = '', ...args] = command;
    return runProcess({
      command: program,
      args,
      cwd: cwd ?? ctx.workDir,
      env: { ...workDirEnv(ctx.workDir), ...env },
      stdin,
      signal: ctx.signal,
      output: ctx.output,
      killGraceMs: ctx.killGraceMs,
    });
  },
};
