import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runProcess } from '../process-tree.js';
import { builtinPayloadSchema } from '../../protocol/task-payloads.js';
import { workDirEnv } from '../task-sandbox.js';
import type { TaskTypeDefinition } from './types.js';

interface ShellCommand {
  command: string;
  args: string[];
  windowsVerbatimArguments?: boolean;
}

/**
 * The shell that runs a script: /bin/sh, except on Android (no /bin there;
 * Termux has its own sh) and Windows (cmd.exe, quoted the way Node's own
 * `shell: true` does it).
 */
export function shellCommand(script: string, env: NodeJS.ProcessEnv = process.env): ShellCommand {
  if (process.platform === 'win32') {
    return { command: env['ComSpec'] ?? 'cmd.exe', args: ['/d', '/s', '/c', `"${script}"`], windowsVerbatimArguments: true };
  }
  const candidates = ['/bin/sh', ...(env['PREFIX'] ? [join(env['PREFIX'], 'bin', 'sh')] : []), '/system/bin/sh'];
  const sh = candidates.find((path) => existsSync(path)) ?? '/bin/sh';
  return { command: sh, args: ['-c', script] };
}

/**
 * `shell {script}`: a shell script, run in the task's work dir. Offered only
 * with `--allow shell`, since it can do anything the worker can.
 */
export const shellTask: TaskTypeDefinition = {
  name: 'shell',
  payloadSchema: builtinPayloadSchema('shell'),
  run(ctx) {
    const shell = shellCommand(ctx.payload['script'] as string);
    return runProcess({ ...shell, cwd: ctx.workDir, env: workDirEnv(ctx.workDir), signal: ctx.signal, output: ctx.output, killGraceMs: ctx.killGraceMs });
  },
};
