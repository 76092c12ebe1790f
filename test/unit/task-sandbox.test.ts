import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { createLogger, silentLogger } from '../../src/common/logger.js';
import { TaskExecutor, type AssignData, type ProgressData, type ResultData } from '../../src/worker/executor.js';
import { createWorkDir, inheritedEnv, isSecretEnvName, removeWorkDir, WORK_DIR_PREFIX } from '../../src/worker/task-sandbox.js';
import { builtinTaskTypes } from '../../src/worker/tasks/index.js';
import type { TaskContext, TaskOutcome, TaskTypeDefinition } from '../../src/worker/tasks/types.js';
import { waitFor } from '../helpers/wait.js';
import { isAlive } from '../helpers/process-state.js';

/**
 * os.tmpdir() follows TMPDIR, so pointing it at a dir of this file's own
 * shows every work dir the executor makes, and proves none is left over.
 */
let tempRoot = '';
const savedTmpdir = process.env['TMPDIR'];

before(() => {
  tempRoot = realpathSync(mkdtempSync(join(tmpdir(), 'rc-sandbox-test-')));
  process.env['TMPDIR'] = tempRoot;
});

after(() => {
  if (savedTmpdir === undefined) delete process.env['TMPDIR'];
  else process.env['TMPDIR'] = savedTmpdir;
  rmSync(tempRoot, { recursive: true, force: true });
});

interface Harness {
  executor: TaskExecutor;
  result(id: string): Promise<ResultData>;
  lines(id: string): string[];
  /** The first output line of `id` that starts with `prefix`, without the prefix, once it is there. */
  printed(id: string, prefix: string): Promise<string>;
}

function harness(t: TestContext, extra: TaskTypeDefinition[] = []): Harness {
  const types = builtinTaskTypes(new Set(['exec', 'shell']));
  for (const def of extra) types.set(def.name, def);
  const progress: ProgressData[] = [];
  const results: ResultData[] = [];
  const executor = new TaskExecutor({
    maxTasks: 4,
    types,
    log: silentLogger(),
    killGraceMs: 300,
    onProgress: (p) => progress.push(p),
    onResult: (r) => results.push(r),
  });
  t.after(() => executor.close(0));
  const lines = (id: string): string[] => progress.filter((p) => p.task_id === id && p.event === 'output').map((p) => p.line ?? '');
  return {
    executor,
    lines,
    result: (id) => waitFor(() => results.find((r) => r.task_id === id), 10_000, `result of ${id}`),
    printed: (id, prefix) =>
      waitFor(() => lines(id).find((l) => l.startsWith(prefix))?.slice(prefix.length), 10_000, `${id} printed ${prefix}`),
  };
}

function assign(task_id: string, task_type: string, payload: Record<string, unknown>, extra: Partial<AssignData> = {}): AssignData {
  return { task_id, attempt: 1, task_type, payload, timeout_s: 30, ...extra };
}


/** Asserts that `dir` is a work dir the executor made: private, under the OS temp dir. */
function assertWorkDir(dir: string | undefined): asserts dir is string {
  assert.ok(dir !== undefined && dir !== '', 'the task saw its work dir');
  assert.equal(dirname(dir), tempRoot);
  assert.ok(basename(dir).startsWith(WORK_DIR_PREFIX), basename(dir));
}

/** Sets environment variables of this process for one test. */
function setEnv(t: TestContext, vars: Record<string, string>): void {
  const saved = Object.keys(vars).map((name) => [name, process.env[name]] as const);
  Object.assign(process.env, vars);
  t.after(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
}

describe('task work dir', () => {
  test('is made fresh under the OS temp dir, private to the worker', async (t) => {
    const a = await createWorkDir();
    const b = await createWorkDir();
    t.after(() => Promise.all([removeWorkDir(a, silentLogger()), removeWorkDir(b, silentLogger())]));
    assertWorkDir(a);
    assertWorkDir(b);
    assert.notEqual(a, b);
    assert.deepEqual(readdirSync(a), []);
    if (process.platform !== 'win32') assert.equal(statSync(a).mode & 0o777, 0o700);
  });

  test('removal takes everything in the dir, and a failure is logged, not thrown', async () => {
    const dir = await createWorkDir();
    mkdirSync(join(dir, 'a', 'b'), { recursive: true });
    writeFileSync(join(dir, 'a', 'b', 'f'), 'x');
    await removeWorkDir(dir, silentLogger());
    assert.equal(existsSync(dir), false);
    await removeWorkDir(dir, silentLogger()); // already gone: nothing to do, nothing to say

    const logged: Array<{ msg: string; work_dir?: string }> = [];
    const log = createLogger({ level: 'info', name: 'test', destination: { write: (s: string) => void logged.push(JSON.parse(s) as { msg: string }) } });
    await removeWorkDir('bad\0path', log);
    assert.deepEqual(logged.map((l) => [l.msg, l.work_dir]), [['cannot remove task work dir', 'bad\0path']]);
  });

  test('is the cwd and TMPDIR of exec, and goes with everything written into it once the task succeeds', async (t) => {
    const h = harness(t);
    const script = 'pwd; echo "tmp:$TMPDIR"; mkdir -p a/b; echo x > a/b/f; echo y > "$TMPDIR/g"; ls -A';
    h.executor.accept(assign('ok', 'exec', { command: ['/bin/sh', '-c', script] }));
    const r = await h.result('ok');
    assert.equal(r.status, 'succeeded');
    const [dir] = h.lines('ok');
    assertWorkDir(dir);
    assert.deepEqual(h.lines('ok'), [dir, `tmp:${dir}`, 'a', 'g'], 'both files were written into the work dir');
    assert.equal(existsSync(dir), false, 'removed before the result was reported');
    assert.deepEqual(readdirSync(tempRoot), [], 'nothing left behind');
  });

  test('each attempt gets its own dir, and a payload cwd still wins', async (t) => {
    const h = harness(t);
    const elsewhere = mkdtempSync(join(tempRoot, 'elsewhere-'));
    t.after(() => rmSync(elsewhere, { recursive: true, force: true }));
    h.executor.accept(assign('one', 'shell', { script: 'pwd' }));
    h.executor.accept(assign('two', 'exec', { command: ['/bin/sh', '-c', 'pwd; echo "tmp:$TMPDIR"'], cwd: elsewhere }));
    await Promise.all([h.result('one'), h.result('two')]);
    const [one] = h.lines('one');
    const [cwd, tmp = ''] = h.lines('two');
    assertWorkDir(one);
    assert.equal(cwd, elsewhere);
    const two = tmp.slice('tmp:'.length);
    assertWorkDir(two);
    assert.notEqual(one, two);
    assert.deepEqual(readdirSync(tempRoot), [basename(elsewhere)]);
  });

  test('goes after a timeout, once the process tree is gone', async (t) => {
    const h = harness(t);
    h.executor.accept(assign('slow', 'shell', { script: 'touch held; echo "dir:$(pwd)"; exec sleep 30' }, { timeout_s: 1 }));
    const dir = await h.printed('slow', 'dir:');
    assertWorkDir(dir);
    assert.deepEqual(readdirSync(dir), ['held'], 'the dir exists while the task runs');
    const r = await h.result('slow');
    assert.equal(r.status, 'timed_out');
    assert.equal(existsSync(dir), false);
  });

  test('goes after a cancel', async (t) => {
    const h = harness(t);
    h.executor.accept(assign('stop', 'exec', { command: ['/bin/sh', '-c', 'touch held; echo "dir:$(pwd)"; exec sleep 30'] }));
    const dir = await h.printed('stop', 'dir:');
    assertWorkDir(dir);
    assert.ok(existsSync(join(dir, 'held')), 'the dir exists while the task runs');
    assert.equal(h.executor.cancel('stop'), true);
    const r = await h.result('stop');
    assert.equal(r.status, 'cancelled');
    assert.equal(existsSync(dir), false);
  });

  test('is removed only after a leftover child that ignores SIGTERM is dead', async (t) => {
    const h = harness(t);
    // The child's output goes elsewhere, so no open pipe keeps the task waiting for it.
    const script = `trap '' TERM; sleep 30 >/dev/null 2>&1 & echo "pid:$!"; echo "dir:$(pwd)"`;
    h.executor.accept(assign('orphan', 'shell', { script }));
    const r = await h.result('orphan');
    assert.equal(r.status, 'succeeded');
    const pid = Number(await h.printed('orphan', 'pid:'));
    assert.ok(pid > 0);
    assert.equal(isAlive(pid), false, 'the result waited for the SIGKILL');
    assert.equal(existsSync(await h.printed('orphan', 'dir:')), false);
  });

  test('goes when a task type throws, with what it wrote', async (t) => {
    let seen: string | undefined;
    const thrower: TaskTypeDefinition = {
      name: 'thrower',
      payloadSchema: { type: 'object' },
      run: async (ctx: TaskContext): Promise<TaskOutcome> => {
        seen = ctx.workDir;
        writeFileSync(join(ctx.workDir ?? '', 'partial.out'), 'half');
        throw new Error('broke halfway');
      },
    };
    const h = harness(t, [thrower]);
    h.executor.accept(assign('boom', 'thrower', {}));
    const r = await h.result('boom');
    assert.deepEqual([r.status, r.result.error], ['failed', 'broke halfway']);
    assertWorkDir(seen);
    assert.equal(existsSync(seen), false);
  });
});

describe('task environment', () => {
  test('names the worker keeps to itself', () => {
    for (const name of ['RC_JOIN_TOKEN', 'RC_API_TOKEN', 'RC_TLS_KEY', 'RC_MASTER', 'rc_lower', 'MY_API_TOKEN', 'github_token', 'AWS_SECRET_ACCESS_KEY', 'Client_Secret', 'DB_PASSWORD', 'pgpassword']) {
      assert.equal(isSecretEnvName(name), true, name);
    }
    for (const name of ['PATH', 'HOME', 'LANG', 'TMPDIR', 'ARC_HOME', 'SRC_DIR', 'PWD']) {
      assert.equal(isSecretEnvName(name), false, name);
    }
    assert.deepEqual(inheritedEnv({ PATH: '/bin', RC_JOIN_TOKEN: 's', GH_TOKEN: 't', UNSET: undefined, LANG: 'C' }), { PATH: '/bin', LANG: 'C' });
  });

  test("exec and shell children never see the worker's secrets, but do see the rest and what the payload passes", async (t) => {
    setEnv(t, { RC_JOIN_TOKEN: 's3cret-token', MY_API_TOKEN: 'my-api-token-value', Db_Password: 'hunter2-pw', RC_SANDBOX_VISIBLE_CHECK: 'rc-value', SANDBOX_VISIBLE: 'visible-value' });
    const h = harness(t);
    h.executor.accept(assign('env', 'exec', { command: ['env'], env: { FOO: 'bar', MY_OWN_TOKEN: 'passed-explicitly' } }));
    h.executor.accept(assign('sh', 'shell', { script: 'env' }));
    for (const id of ['env', 'sh']) {
      const r = await h.result(id);
      assert.equal(r.status, 'succeeded', id);
      const lines = h.lines(id);
      for (const secret of ['RC_JOIN_TOKEN', 's3cret-token', 'MY_API_TOKEN', 'my-api-token-value', 'Db_Password', 'hunter2-pw', 'RC_SANDBOX_VISIBLE_CHECK', 'rc-value']) {
        assert.equal(r.result.output.includes(secret), false, `${id} saw ${secret}`);
      }
      assert.ok(lines.includes('SANDBOX_VISIBLE=visible-value'), `${id} inherits the worker's other variables`);
      const tmp = lines.find((l) => l.startsWith('TMPDIR='))?.slice('TMPDIR='.length);
      assertWorkDir(tmp);
    }
    assert.ok(h.lines('env').includes('FOO=bar'));
    assert.ok(h.lines('env').includes('MY_OWN_TOKEN=passed-explicitly'), 'a task may pass its own variables explicitly');
    assert.equal(process.env['RC_JOIN_TOKEN'], 's3cret-token', "the worker's own environment is untouched");
  });
});
