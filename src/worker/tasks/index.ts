/**
 * The task types a worker offers: the built-ins (`exec`, `shell` only when allowed)
 * and plugins loaded from a directory.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readdirEntries } from '../fs-async.js';
import { ConfigError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { BUILTIN_TASK_TYPES, payloadValidator } from '../../protocol/task-payloads.js';
import { echoTask } from './echo.js';
import { execTask } from './exec.js';
import { httpTask } from './http.js';
import { shellTask } from './shell.js';
import { sleepTask } from './sleep.js';
import { systemInfoTask } from './system-info.js';
import type { TaskTypeDefinition } from './types.js';

export type { OutputSink, OutputStream, TaskContext, TaskOutcome, TaskTypeDefinition } from './types.js';

/**
 * Task types that run only when the worker was started with `--allow <name>`:
 * the ones that run arbitrary programs on the device (issue #5: exec and shell
 * run only on a worker that allows them).
 */
const OPT_IN_TYPES: ReadonlySet<string> = new Set(['exec', 'shell']);
const ALL_BUILTINS: readonly TaskTypeDefinition[] = [echoTask, sleepTask, systemInfoTask, execTask, shellTask, httpTask];
/** As task_submit.schema.json allows a task_type. */
const TASK_TYPE_NAME = /^[a-z][a-z0-9_.-]{0,63}$/;
const PLUGIN_FILE = /\.m?js$/;

/** A new map of the built-in types this worker offers; opt-in types only when `allow` names them. */
export function builtinTaskTypes(allow: ReadonlySet<string>): Map<string, TaskTypeDefinition> {
  const offered = ALL_BUILTINS.filter((def) => !OPT_IN_TYPES.has(def.name) || allow.has(def.name));
  return new Map(offered.map((def) => [def.name, def]));
}

/**
 * Imports every `*.js` / `*.mjs` module in `dir` (in name order) and returns
 * the task types they export (default export, or a named export `taskType`).
 * A plugin that fails to load, exports no valid task type, has a payload
 * schema that does not compile, or reuses a built-in or an already loaded
 * name is logged with its file name and skipped. An unreadable directory is a
 * config error (the worker was told to load plugins from it).
 */
export async function loadPlugins(dir: string, log: Logger): Promise<TaskTypeDefinition[]> {
  const files = await listPluginFiles(dir);
  const loaded: TaskTypeDefinition[] = [];
  const taken = new Set<string>(BUILTIN_TASK_TYPES);
  for (const file of files) {
    const plugin = await loadPlugin(join(dir, file), taken);
    if (typeof plugin === 'string') {
      log.warn({ plugin: file, reason: plugin }, 'plugin skipped');
      continue;
    }
    taken.add(plugin.name);
    loaded.push(plugin);
    log.info({ plugin: file, task_type: plugin.name }, 'plugin loaded');
  }
  return loaded;
}

async function listPluginFiles(dir: string): Promise<string[]> {
  try {
    const entries = await readdirEntries(dir);
    return entries.filter((e) => e.isFile() && PLUGIN_FILE.test(e.name)).map((e) => e.name).sort();
  } catch (err) {
    throw new ConfigError([`plugins: cannot read directory ${dir}: ${(err as Error).message}`]);
  }
}

/** The plugin's task type, or why it was refused. */
async function loadPlugin(path: string, taken: ReadonlySet<string>): Promise<TaskTypeDefinition | string> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    return `cannot import: ${(err as Error).message}`;
  }
  const def = [mod['default'], mod['taskType']].find(isTaskTypeShaped);
  if (def === undefined) return 'exports no task type: need { name, payloadSchema, run } as default export or as `taskType`';
  if (!TASK_TYPE_NAME.test(def.name)) return `invalid task type name "${def.name}": must match ${TASK_TYPE_NAME.source}`;
  if (BUILTIN_TASK_TYPES.includes(def.name)) return `may not replace the built-in task type "${def.name}"`;
  if (taken.has(def.name)) return `task type "${def.name}" is already provided by another plugin`;
  try {
    payloadValidator(def.payloadSchema);
  } catch (err) {
    return `payloadSchema does not compile: ${(err as Error).message}`;
  }
  return def;
}

function isTaskTypeShaped(value: unknown): value is TaskTypeDefinition {
  if (typeof value !== 'object' || value === null) return false;
  const def = value as Partial<Record<keyof TaskTypeDefinition, unknown>>;
  return typeof def.name === 'string' && typeof def.payloadSchema === 'object' && def.payloadSchema !== null && typeof def.run === 'function';
}
