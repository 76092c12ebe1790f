import type { Logger } from '../../common/logger.js';

export type OutputStream = 'stdout' | 'stderr';

/** Where a task writes its output; the executor splits it into lines, caps it, and streams it. */
export interface OutputSink {
  write(stream: OutputStream, text: string): void;
}

export interface TaskContext {
  task_id: string;
  attempt: number;
  /** Already validated against the type's payload schema. */
  payload: Record<string, unknown>;
  /** Aborted on timeout or cancel: the task must stop (kill its process tree) and return. */
  signal: AbortSignal;
  timeoutMs: number;
  /** After an abort, how long spawned processes get between SIGTERM and SIGKILL, in ms. */
  killGraceMs?: number;
  output: OutputSink;
  log: Logger;
  /**
   * A private dir for this attempt alone (mode 0700), removed with everything
   * in it once the task has ended: the default cwd of exec and shell, and
   * their TMPDIR. Unset when a task type is run outside the executor.
   */
  workDir?: string;
}

/** What a task type returns; the executor turns it into a task_result. */
export interface TaskOutcome {
  exit_code: number | null;
  /** Non-null means the task failed. */
  error: string | null;
  /** Set when the process died of a signal nobody on our side sent (Android's OOM killer). */
  killed_by_signal?: string | null;
}

/** One task type: one file under src/worker/tasks/ (or one plugin module). */
export interface TaskTypeDefinition {
  name: string;
  /** JSON Schema (draft-07) for the payload; the master checks it at submit, the worker again at accept. */
  payloadSchema: object;
  run(ctx: TaskContext): Promise<TaskOutcome>;
}
