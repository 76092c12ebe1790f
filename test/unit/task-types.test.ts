import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { ConfigError } from '../../src/common/errors.js';
import { createLogger, silentLogger } from '../../src/common/logger.js';
import { BUILTIN_TASK_TYPES, formatViolations, payloadSchema, validatePayload } from '../../src/protocol/task-payloads.js';
import { echoTask } from '../../src/worker/tasks/echo.js';
import { execTask } from '../../src/worker/tasks/exec.js';
import { checkHttpUrl, httpTask } from '../../src/worker/tasks/http.js';
import { builtinTaskTypes, loadPlugins } from '../../src/worker/tasks/index.js';
import { shellTask } from '../../src/worker/tasks/shell.js';
import { sleepTask } from '../../src/worker/tasks/sleep.js';
import { systemInfoTask } from '../../src/worker/tasks/system-info.js';
import type { OutputStream, TaskContext, TaskOutcome, TaskTypeDefinition } from '../../src/worker/tasks/types.js';

interface Run {
  outcome: TaskOutcome;
  out: Array<[OutputStream, string]>;
  text: string;
}

/** Runs a task type directly, without the executor, collecting what it writes. */
async function runTask(def: TaskTypeDefinition, payload: Record<string, unknown>, signal = new AbortController().signal, workDir?: string): Promise<Run> {
  const out: Array<[OutputStream, string]> = [];
  const ctx: TaskContext = {
    task_id: 't-1',
    attempt: 1,
    payload,
    signal,
    timeoutMs: 10_000,
    killGraceMs: 200,
    output: { write: (stream, text) => out.push([stream, text]) },
    log: silentLogger(),
    workDir,
  };
  const outcome = await def.run(ctx);
  return { outcome, out, text: out.map(([, t]) => t).join('') };
}

function paths(type: string, payload: unknown): string[] {
  return validatePayload(type, payload).violations.map((v) => v.path);
}

function tempDir(t: TestContext): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'rc-tasks-')));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('payload schemas', () => {
  test('every built-in type has a draft-07 schema that refuses unknown fields', () => {
    assert.deepEqual([...BUILTIN_TASK_TYPES].sort(), ['echo', 'exec', 'http', 'shell', 'sleep', 'system_info']);
    for (const type of BUILTIN_TASK_TYPES) {
      const schema = payloadSchema(type) as { $schema?: string; additionalProperties?: unknown } | null;
      assert.ok(schema, `${type} has a schema`);
      assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#', type);
      assert.equal(schema.additionalProperties, false, type);
      assert.ok(paths(type, { surprise: 1 }).includes('/surprise'), type);
    }
    assert.equal(payloadSchema('launch_rocket'), null);
  });

  test('the examples in every schema are valid payloads', () => {
    for (const type of BUILTIN_TASK_TYPES) {
      const examples = (payloadSchema(type) as { examples?: unknown[] }).examples ?? [];
      assert.ok(examples.length > 0, `${type} shows an example`);
      for (const example of examples) assert.deepEqual(validatePayload(type, example), { known: true, violations: [] }, `${type} ${JSON.stringify(example)}`);
    }
  });

  test('an unknown type is reported as unknown, not as invalid', () => {
    assert.deepEqual(validatePayload('launch_rocket', { anything: true }), { known: false, violations: [] });
  });

  test('echo, sleep and system_info payloads of the wrong shape name the field', () => {
    assert.deepEqual(validatePayload('echo', {}).violations, [{ path: '', message: 'must have the field message' }]);
    assert.deepEqual(validatePayload('echo', { message: 7 }).violations, [{ path: '/message', message: 'must be string' }]);
    assert.deepEqual(paths('sleep', { seconds: -1 }), ['/seconds']);
    assert.deepEqual(paths('sleep', { seconds: 86_401 }), ['/seconds']);
    assert.deepEqual(validatePayload('sleep', { seconds: '5' }).violations, [{ path: '/seconds', message: 'must be number' }]);
    assert.deepEqual(paths('sleep', { seconds: 86_400 }), []);
    assert.deepEqual(validatePayload('system_info', { verbose: true }).violations, [{ path: '/verbose', message: 'is not allowed (allowed fields: none)' }]);
    assert.deepEqual(paths('echo', 'hello'), ['']);
  });

  test('exec payloads of the wrong shape name the field', () => {
    assert.deepEqual(validatePayload('exec', { command: 'ls -l' }).violations, [{ path: '/command', message: 'must be array' }]);
    assert.equal(formatViolations(validatePayload('exec', { command: 'ls' }).violations), '/command must be array');
    assert.deepEqual(paths('exec', { command: [] }), ['/command']);
    assert.deepEqual(paths('exec', { command: ['ls', 3] }), ['/command/1']);
    assert.deepEqual(paths('exec', { command: ['ls'], env: { A: 1 } }), ['/env/A']);
    assert.deepEqual(paths('exec', { command: ['ls'], cwd: 5, stdin: {} }), ['/cwd', '/stdin']);
    assert.deepEqual(validatePayload('exec', { command: ['ls'], shell: true }).violations, [
      { path: '/shell', message: 'is not allowed (allowed fields: command, cwd, env, stdin)' },
    ]);
  });

  test('shell and http payloads of the wrong shape name the field', () => {
    assert.deepEqual(paths('shell', { script: '' }), ['/script']);
    assert.deepEqual(paths('shell', { command: ['ls'] }), ['', '/command']);
    for (const url of ['ftp://example.org/x', 'file:///etc/passwd', 'javascript:alert(1)', 'example.org', 'http://']) {
      assert.deepEqual(validatePayload('http', { url }).violations, [{ path: '/url', message: 'must be an http:// or https:// URL' }], url);
    }
    assert.deepEqual(paths('http', { url: 'HTTPS://example.org' }), []);
    assert.deepEqual(validatePayload('http', { url: 'http://x', method: 'FETCH' }).violations, [
      { path: '/method', message: 'must be one of GET, POST, PUT, PATCH, DELETE, HEAD' },
    ]);
    assert.deepEqual(paths('http', { url: 'http://x', headers: { accept: 1 } }), ['/headers/accept']);
    assert.deepEqual(validatePayload('http', { url: 'http://x', method: 'GET', body: 'b' }).violations, [
      { path: '', message: 'a GET or HEAD request cannot have a body' },
    ]);
    assert.deepEqual(paths('http', { url: 'http://x', method: 'PUT', body: 'b' }), []);
  });
});

describe('built-in task types', () => {
  test('exec and shell are offered only when allowed', () => {
    const plain = builtinTaskTypes(new Set());
    assert.deepEqual([...plain.keys()].sort(), ['echo', 'http', 'sleep', 'system_info']);
    assert.deepEqual([...builtinTaskTypes(new Set(['exec'])).keys()].sort(), ['echo', 'exec', 'http', 'sleep', 'system_info']);
    const withShell = builtinTaskTypes(new Set(['exec', 'shell']));
    assert.deepEqual([...withShell.keys()].sort(), ['echo', 'exec', 'http', 'shell', 'sleep', 'system_info']);
    for (const [name, def] of withShell) {
      assert.equal(def.name, name);
      assert.equal(def.payloadSchema, payloadSchema(name), `${name} uses its schema file`);
    }
    assert.notEqual(builtinTaskTypes(new Set()), plain, 'each call builds a new map the caller may extend');
  });

  test('echo outputs its message', async () => {
    const run = await runTask(echoTask, { message: 'hello cluster' });
    assert.deepEqual(run.outcome, { exit_code: 0, error: null });
    assert.equal(run.text, 'hello cluster');
  });

  test('system_info outputs one JSON object of device facts', async () => {
    const run = await runTask(systemInfoTask, {});
    assert.equal(run.outcome.exit_code, 0);
    const info = JSON.parse(run.text) as Record<string, unknown>;
    assert.equal(info['arch'], process.arch);
    assert.equal(info['node_version'], process.version);
    assert.ok(Number.isInteger(info['cpu_count']) && (info['cpu_count'] as number) > 0);
    assert.ok((info['memory_total_gb'] as number) > 0);
  });

  test('sleep ends at once when aborted', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = runTask(sleepTask, { seconds: 30 }, controller.signal);
    controller.abort();
    const run = await pending;
    assert.equal(run.outcome.exit_code, null);
    assert.ok(Date.now() - started < 5000, 'did not sleep 30 s');
    assert.deepEqual((await runTask(sleepTask, { seconds: 0.01 })).outcome, { exit_code: 0, error: null });
  });

  test('exec runs a program without a shell and reports its exit code', async () => {
    const ok = await runTask(execTask, { command: ['/bin/sh', '-c', 'echo out; echo err >&2'] });
    assert.deepEqual(ok.outcome, { exit_code: 0, error: null });
    assert.deepEqual(ok.out.map(([s, t]) => [s, t.trim()]).sort(), [['stderr', 'err'], ['stdout', 'out']]);
    const failed = await runTask(execTask, { command: ['/bin/sh', '-c', 'exit 7'] });
    assert.deepEqual(failed.outcome, { exit_code: 7, error: 'exited with code 7' });
    const literal = await runTask(execTask, { command: ['echo', '$HOME', '*'] });
    assert.equal(literal.text, '$HOME *\n', 'arguments are not expanded by a shell');
  });

  test('exec passes stdin, env merged over the environment, and cwd', async (t) => {
    const dir = tempDir(t);
    const script = 'cat; echo "[$RC_TEST_VAR]"; echo "[${PATH:+has-path}]"; pwd';
    const run = await runTask(execTask, { command: ['/bin/sh', '-c', script], stdin: 'from stdin\n', env: { RC_TEST_VAR: 'forty two' }, cwd: dir });
    assert.equal(run.outcome.exit_code, 0);
    assert.equal(run.text, `from stdin\n[forty two]\n[has-path]\n${dir}\n`);
    const noStdin = await runTask(execTask, { command: ['cat'] });
    assert.deepEqual(noStdin.outcome, { exit_code: 0, error: null }, 'without stdin the program reads EOF at once');
  });

  test("exec and shell run in the context's work dir, with TMPDIR there, unless the payload names a cwd", async (t) => {
    const workDir = tempDir(t);
    const other = tempDir(t);
    const signal = new AbortController().signal;
    const exec = await runTask(execTask, { command: ['/bin/sh', '-c', 'pwd; echo "$TMPDIR"'] }, signal, workDir);
    assert.equal(exec.text, `${workDir}\n${workDir}\n`);
    const shell = await runTask(shellTask, { script: 'pwd; echo "$TMPDIR"' }, signal, workDir);
    assert.equal(shell.text, `${workDir}\n${workDir}\n`);
    const elsewhere = await runTask(execTask, { command: ['/bin/sh', '-c', 'pwd; echo "$TMPDIR"'], cwd: other }, signal, workDir);
    assert.equal(elsewhere.text, `${other}\n${workDir}\n`);
    const explicit = await runTask(execTask, { command: ['/bin/sh', '-c', 'echo "$TMPDIR"'], env: { TMPDIR: other } }, signal, workDir);
    assert.equal(explicit.text, `${other}\n`, 'the payload env comes last');
  });

  test('exec reports a program that cannot start, and a signal nobody on our side sent', async () => {
    const missing = await runTask(execTask, { command: ['/nonexistent/program-rc'] });
    assert.equal(missing.outcome.exit_code, null);
    assert.match(missing.outcome.error ?? '', /^cannot start \/nonexistent\/program-rc: .*ENOENT/);
    const badCwd = await runTask(execTask, { command: ['true'], cwd: '/nonexistent/dir-rc' });
    assert.equal(badCwd.outcome.error, 'cannot start true: working directory /nonexistent/dir-rc does not exist');
    const oom = await runTask(execTask, { command: ['/bin/sh', '-c', 'kill -KILL $$'] });
    assert.deepEqual(oom.outcome, { exit_code: null, error: 'killed by SIGKILL', killed_by_signal: 'SIGKILL' });
  });

  test('shell runs a script with sh -c', async () => {
    const run = await runTask(shellTask, { script: 'for i in 1 2 3; do printf "$i"; done; exit 4' });
    assert.deepEqual(run.outcome, { exit_code: 4, error: 'exited with code 4' });
    assert.equal(run.text, '123');
  });

  test('http refuses any scheme but http and https before it sends anything', async () => {
    assert.equal(checkHttpUrl('http://127.0.0.1:1/x'), null);
    assert.equal(checkHttpUrl('https://example.org'), null);
    assert.match(checkHttpUrl('file:///etc/passwd') ?? '', /only http:\/\/ and https:\/\/ URLs are allowed, not file:/);
    assert.match(checkHttpUrl('not a url') ?? '', /^invalid URL/);
    const run = await runTask(httpTask, { url: 'file:///etc/passwd' });
    assert.deepEqual(run.outcome, { exit_code: null, error: 'only http:// and https:// URLs are allowed, not file:' });
    assert.equal(run.text, '', 'nothing was read');
  });
});

interface LogLine {
  msg: string;
  plugin?: string;
  reason?: string;
  task_type?: string;
}

function capturingLogger(): { log: ReturnType<typeof createLogger>; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = createLogger({ level: 'info', name: 'test', destination: { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) } });
  return { log, lines };
}

const GOOD_PLUGIN = `
export default {
  name: 'upper',
  payloadSchema: { type: 'object', additionalProperties: false, required: ['text'], properties: { text: { type: 'string' } } },
  async run(ctx) { ctx.output.write('stdout', ctx.payload.text.toUpperCase()); return { exit_code: 0, error: null }; },
};
`;

describe('plugins', () => {
  test('loads good plugins and skips broken ones, each logged by file name', async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'a-upper.mjs'), GOOD_PLUGIN);
    writeFileSync(join(dir, 'b-named.js'), `export const taskType = { name: 'named', payloadSchema: {}, run: async () => ({ exit_code: 0, error: null }) };`);
    writeFileSync(join(dir, 'c-syntax.mjs'), 'export default {{{');
    writeFileSync(join(dir, 'd-throws.mjs'), `throw new Error('plugin exploded');`);
    writeFileSync(join(dir, 'e-echo.mjs'), `export default { name: 'echo', payloadSchema: {}, run: async () => ({ exit_code: 0, error: 'hijacked' }) };`);
    writeFileSync(join(dir, 'f-shell.mjs'), `export default { name: 'shell', payloadSchema: {}, run: async () => ({ exit_code: 0, error: null }) };`);
    writeFileSync(join(dir, 'g-shape.mjs'), `export default { name: 'shapeless', run: 42 };`);
    writeFileSync(join(dir, 'h-schema.mjs'), `export default { name: 'badschema', payloadSchema: { type: 'no-such-type' }, run: async () => ({ exit_code: 0, error: null }) };`);
    writeFileSync(join(dir, 'i-dup.mjs'), GOOD_PLUGIN);
    writeFileSync(join(dir, 'j-name.mjs'), `export default { name: 'Bad Name', payloadSchema: {}, run: async () => ({ exit_code: 0, error: null }) };`);
    writeFileSync(join(dir, 'readme.txt'), 'not a plugin');
    const { log, lines } = capturingLogger();

    const plugins = await loadPlugins(dir, log);

    assert.deepEqual(plugins.map((p) => p.name), ['upper', 'named']);
    const skipped = new Map(lines.filter((l) => l.msg === 'plugin skipped').map((l) => [l.plugin, l.reason ?? '']));
    assert.deepEqual([...skipped.keys()].sort(), ['c-syntax.mjs', 'd-throws.mjs', 'e-echo.mjs', 'f-shell.mjs', 'g-shape.mjs', 'h-schema.mjs', 'i-dup.mjs', 'j-name.mjs']);
    assert.match(skipped.get('d-throws.mjs') ?? '', /plugin exploded/);
    assert.match(skipped.get('e-echo.mjs') ?? '', /may not replace the built-in task type "echo"/);
    assert.match(skipped.get('f-shell.mjs') ?? '', /built-in task type "shell"/, 'a plugin cannot sneak in the opt-in shell');
    assert.match(skipped.get('g-shape.mjs') ?? '', /exports no task type/);
    assert.match(skipped.get('h-schema.mjs') ?? '', /payloadSchema does not compile/);
    assert.match(skipped.get('i-dup.mjs') ?? '', /already provided by another plugin/);
    assert.match(skipped.get('j-name.mjs') ?? '', /invalid task type name/);
    assert.deepEqual(lines.filter((l) => l.msg === 'plugin loaded').map((l) => [l.plugin, l.task_type]), [['a-upper.mjs', 'upper'], ['b-named.js', 'named']]);

    const upper = plugins[0];
    assert.ok(upper);
    assert.equal((await runTask(upper, { text: 'shout' })).text, 'SHOUT');
  });

  test('an unreadable plugin directory is a config error', async (t) => {
    const missing = join(tempDir(t), 'nope');
    await assert.rejects(loadPlugins(missing, silentLogger()), (err: unknown) => err instanceof ConfigError && err.message.includes(missing));
  });
});
