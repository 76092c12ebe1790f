/**
 * What a task may see of the worker: a private work dir of its own, made
 * fresh for each attempt and removed after it, and an environment without
 * the worker's secrets (join token, API token, TLS key paths and the like).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtemp, realpath, rm } from './fs-async.js';
import type { Logger } from '../common/logger.js';

/** Prefix of every task work dir under the OS temp dir. */
export const WORK_DIR_PREFIX = 'rc-task-';

/** The worker's own settings (RC_*), and anything named like a credential. */
const SECRET_NAME = /^RC_|TOKEN|SECRET|PASSWORD/i;

/**
 * Makes a fresh work dir for one task attempt. mkdtemp creates it with mode
 * 0700, so other users cannot look in. The path is canonical (macOS links
 * /var to /private/var), so it matches what `pwd` prints inside it.
 */
export async function createWorkDir(): Promise<string> {
  return realpath(await mkdtemp(join(tmpdir(), WORK_DIR_PREFIX)));
}

/** Removes a work dir and everything in it. Never throws: a failure is logged, and the task's result stands. */
export async function removeWorkDir(dir: string, log: Logger): Promise<void> {
  try {
    // The retries cover a file still being written as the tree is walked (ENOTEMPTY) and Windows' EBUSY.
    await rm(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 });
  } catch (err) {
    log.warn({ err, work_dir: dir }, 'cannot remove task work dir');
  }
}

/** Whether an environment variable of the worker must not reach a task. */
export function isSecretEnvName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** The worker's environment without its secrets: what a task's processes inherit. */
export function inheritedEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !isSecretEnvName(name)) kept[name] = value;
  }
  return kept;
}

/** Points a task's temp files into its work dir (TMPDIR; TEMP and TMP on Windows), so they go when it does. */
export function workDirEnv(dir: string | undefined): Record<string, string> {
  if (dir === undefined) return {};
  return process.platform === 'win32' ? { TMPDIR: dir, TEMP: dir, TMP: dir } : { TMPDIR: dir };
}
