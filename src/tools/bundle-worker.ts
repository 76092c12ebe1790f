/**
 * Builds the one-file worker (issue #7): dist/worker/rc-worker.cjs, with its
 * SHA-256 beside it. Run by `npm run build` after tsc, from the compiled
 * dist/ tree. The file needs no node_modules and no native module: the
 * protocol's JSON Schemas and the version are inlined, and a worker module
 * that reaches for the store, HTTP or a `.node` addon fails the build.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { createRequire } from 'node:module';
import { findPackageRoot } from '../common/package-root.js';
import { AJV_SHIM, precompiledValidatorsSource } from './precompile-validators.js';

export const BUNDLE_DIR = join('dist', 'worker');
export const BUNDLE_FILE = 'rc-worker.cjs';
/** Node 18 is what Termux and Raspberry Pi OS (bookworm) still ship in places. */
const TARGET = 'node18';
/** Modules the worker must never pull in: they are the master's, or native. */
const FORBIDDEN = /(^|\/)(better-sqlite3|prom-client|fastify)(\/|$)|\/src\/(store|http|scheduler|master)\//;

function protocolFiles(root: string): Record<string, unknown> {
  const base = join(root, 'protocol');
  const files: Record<string, unknown> = {};
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.json')) files[relative(base, full).split('\\').join('/')] = JSON.parse(readFileSync(full, 'utf8'));
    }
  };
  walk(join(base, 'schema'));
  return files;
}

/**
 * pino, as the worker uses it (pino.destination, no transports), needs
 * neither worker threads nor node:assert, but loads both at startup: with
 * them came ten built-in modules and about 0.5 MB of an idle worker's RSS.
 * In the bundle only, and only for these importers:
 * - thread-stream (transports) throws if ever constructed;
 * - pino's isMainThread is true: the bundle is always a process's entry;
 * - sonic-boom's one assert loads the real node:assert when it fails.
 */
export const PINO_TRIMS: Readonly<Record<string, string>> = {
  'pino-no-transports': "module.exports = class ThreadStream { constructor() { throw new Error('pino transports are not in the one-file worker'); } };",
  'pino-main-thread': 'module.exports = { isMainThread: true };',
  'lazy-assert': "module.exports = function assert(value, message) { if (!value) require('node:assert')(value, message); };",
};

export function pinoTrim(path: string, importer: string): { path: string; namespace: string } | undefined {
  const from = importer.split('\\').join('/');
  const trimmed =
    path === 'thread-stream' && from.includes('/node_modules/pino/') ? 'pino-no-transports'
    : path === 'worker_threads' && from.endsWith('/node_modules/pino/lib/tools.js') ? 'pino-main-thread'
    : path === 'assert' && from.endsWith('/node_modules/sonic-boom/index.js') ? 'lazy-assert'
    : undefined;
  return trimmed === undefined ? undefined : { path: trimmed, namespace: 'rc-inline' };
}

function inlinePlugin(root: string): Plugin {
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const modules: Record<string, string> = {
    'protocol-files': [
      `const FILES = ${JSON.stringify(protocolFiles(root))};`,
      `export const PROTOCOL_DIR = '(inlined in the worker bundle)';`,
      'export function readProtocolJson(relPath) {',
      '  const value = FILES[relPath];',
      '  if (value === undefined) throw new Error(`protocol file ${relPath} is not in the worker bundle`);',
      '  return JSON.parse(JSON.stringify(value));',
      '}',
    ].join('\n'),
    version: `export function packageVersion() { return ${JSON.stringify(version)}; }`,
    'ajv-shim': AJV_SHIM,
    'rc-precompiled-validators': precompiledValidatorsSource(),
    ...PINO_TRIMS,
  };
  // The shim falls back to the real package for a schema not compiled at build time (a plugin's).
  const realAjv = createRequire(join(root, 'package.json')).resolve('ajv');
  return {
    name: 'rc-inline',
    setup(b) {
      b.onResolve({ filter: /\/protocol-files\.js$/ }, () => ({ path: 'protocol-files', namespace: 'rc-inline' }));
      b.onResolve({ filter: /\/common\/version\.js$/ }, () => ({ path: 'version', namespace: 'rc-inline' }));
      b.onResolve({ filter: /^ajv$/ }, () => ({ path: 'ajv-shim', namespace: 'rc-inline' }));
      b.onResolve({ filter: /^rc-precompiled-validators$/ }, () => ({ path: 'rc-precompiled-validators', namespace: 'rc-inline' }));
      b.onResolve({ filter: /^ajv-real$/ }, () => ({ path: realAjv }));
      b.onResolve({ filter: /^(thread-stream|worker_threads|assert)$/ }, (args) => pinoTrim(args.path, args.importer));
      b.onLoad({ filter: /.*/, namespace: 'rc-inline' }, (args) => ({ contents: modules[args.path], loader: 'js', resolveDir: root }));
      b.onResolve({ filter: /.*/ }, (args) => {
        const target = args.path.startsWith('.') ? join(args.resolveDir, args.path) : args.path;
        if (FORBIDDEN.test(target.split('\\').join('/'))) return { errors: [{ text: `the worker bundle must not import ${args.path} (from ${args.importer})` }] };
        return undefined;
      });
    },
  };
}

/**
 * esbuild's ASCII charset misses non-ASCII inside regular expression literals
 * (systeminformation has one): one such character makes V8 keep the whole
 * source as two bytes per character. \uXXXX means the same in strings,
 * templates and regexes; the bundle has no non-ASCII identifiers.
 */
function asciiOnly(source: string): Buffer {
  return Buffer.from(source.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

export async function bundleWorker(root = findPackageRoot()): Promise<{ file: string; bytes: number; sha256: string }> {
  const outDir = join(root, BUNDLE_DIR);
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, BUNDLE_FILE);
  await build({
    entryPoints: [join(root, 'dist', 'src', 'cli', 'worker-entry.js')],
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: TARGET,
    plugins: [inlinePlugin(root)],
    // A `.node` addon cannot be inlined; refusing it here keeps the bundle portable.
    loader: { '.node': 'empty' },
    logOverride: { 'empty-import-meta': 'error' },
    legalComments: 'eof',
    // Whitespace and comments out, identifiers untouched (stack traces stay
    // readable, so no keepNames wrappers either); ASCII only, so V8 holds the
    // source as one byte per character. All of it cuts a phone's RSS.
    minifyWhitespace: true,
    minifySyntax: true,
    charset: 'ascii',
    logLevel: 'warning',
  });
  const bytes = asciiOnly(readFileSync(file, 'utf8'));
  writeFileSync(file, bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(`${file}.sha256`, `${sha256}  rc-worker.js\n`);
  return { file, bytes: bytes.length, sha256 };
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('\\').join('/'))) {
  const { file, bytes, sha256 } = await bundleWorker();
  process.stdout.write(`worker bundle: ${relative(process.cwd(), file)} (${(bytes / 1024).toFixed(0)} KiB, sha256 ${sha256.slice(0, 16)}…)\n`);
}
