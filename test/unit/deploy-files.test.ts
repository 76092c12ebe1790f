import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MASTER_DEFAULTS } from '../../src/common/config.js';
import { MASTER_SOURCES, WORKER_SOURCES } from '../../src/common/config-schema.js';
import { joinText } from '../../src/http/render/join-lines.js';
import { REPO_ROOT } from '../helpers/processes.js';

// No Docker engine runs here, so the deployment files are checked against the code instead:
// every setting they use must exist, and the ports and paths must be the real ones.
const DEPLOY = join(REPO_ROOT, 'config', 'deploy');
const read = (file: string): string => readFileSync(file, 'utf8');
const deployFiles = (): string[] => readdirSync(DEPLOY).map((f) => join(DEPLOY, f));
const KNOWN_ENV = new Set([...Object.values(MASTER_SOURCES), ...Object.values(WORKER_SOURCES)].map((s) => s.env));

function helpFlags(bin: string): Set<string> {
  const out = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', bin), '--help'], { encoding: 'utf8' }).stdout;
  return new Set(out.match(/--[a-z][a-z-]*/g) ?? []);
}

test('every RC_* variable the deployment files set is a real setting', () => {
  const used = deployFiles().flatMap((f) => [...read(f).matchAll(/\b(RC_[A-Z_]+)=/g)].map((m) => m[1]!));
  used.push(...[...read(join(REPO_ROOT, 'Dockerfile')).matchAll(/\b(RC_[A-Z_]+)\b/g)].map((m) => m[1]!));
  assert.ok(used.length >= 5, `found ${used.length}`);
  for (const name of used) assert.ok(KNOWN_ENV.has(name), `${name} is not a setting (see config/README.md)`);
});

test('every flag given to rc-master or rc-worker in the deployment files and the /join lines exists', () => {
  const flags = { 'rc-master.js': helpFlags('rc-master.js'), 'rc-worker.js': helpFlags('rc-worker.js') };
  assert.ok(flags['rc-worker.js'].has('--join') && flags['rc-worker.js'].has('--shutdown-grace'));
  const joinLines = joinText({ host: 'nas', httpPort: 5000, tcpPort: 8080, https: true, token: 'T0KEN', insecure: false, tlsFingerprint: 'ab'.repeat(32) });
  const sources = [...deployFiles().map(read), joinLines, read(join(REPO_ROOT, 'README.md'))];
  let checked = 0;
  for (const text of sources) {
    for (const m of text.matchAll(/(rc-master\.js|rc-worker\.js)([^\n&;|`]*)/g)) {
      for (const flag of m[2]!.match(/--[a-z][a-z-]*/g) ?? []) {
        checked++;
        assert.ok(flags[m[1] as keyof typeof flags].has(flag), `${m[1]} has no ${flag}`);
      }
    }
  }
  assert.ok(checked >= 3, `checked ${checked} flags`);
});

test('the Dockerfile: multi-stage, non-root, data volume, the default ports, and a healthcheck on HTTP /health', () => {
  const docker = read(join(REPO_ROOT, 'Dockerfile'));
  assert.ok((docker.match(/^FROM /gm) ?? []).length >= 2, 'multi-stage');
  assert.match(docker, /^USER (?!root)\w+/m);
  assert.match(docker, /^VOLUME \["\/data"\]/m);
  assert.match(docker, /RC_DATA_DIR=\/data/);
  assert.match(docker, new RegExp(`^EXPOSE ${MASTER_DEFAULTS.port} ${MASTER_DEFAULTS.http_port}$`, 'm'));
  assert.match(docker, /^HEALTHCHECK [\s\S]*\/health/m);
  assert.match(docker, new RegExp(`RC_HTTP_PORT\\|\\|${MASTER_DEFAULTS.http_port}`));
  // Everything `npm ci` (prepare → build → bundle) reads must be copied before it runs.
  const build = docker.slice(0, docker.indexOf('npm ci'));
  for (const dir of ['src', 'bin', 'protocol']) assert.match(build, new RegExp(`COPY ${dir} `), `${dir}/ is copied before npm ci`);
});

test('compose publishes the default ports and mounts the data volume; the units start the real entry points', () => {
  const compose = read(join(DEPLOY, 'docker-compose.yml'));
  assert.match(compose, new RegExp(`"${MASTER_DEFAULTS.port}:${MASTER_DEFAULTS.port}"`));
  assert.match(compose, new RegExp(`"${MASTER_DEFAULTS.http_port}:${MASTER_DEFAULTS.http_port}"`));
  assert.match(compose, /- rc-data:\/data/);
  assert.match(compose, /dockerfile: Dockerfile/);
  assert.ok(existsSync(join(DEPLOY, '..', '..', 'Dockerfile')), 'the build context ../.. holds the Dockerfile');
  assert.match(read(join(DEPLOY, 'rc-master.service')), /^ExecStart=\/usr\/bin\/node \/opt\/retire-cluster\/bin\/rc-master\.js$/m);
  assert.match(read(join(DEPLOY, 'rc-worker.service')), /^ExecStart=\/usr\/bin\/node \/opt\/retire-cluster\/rc-worker\.js$/m);
  assert.match(read(join(DEPLOY, 'rc-worker.service')), /^EnvironmentFile=/m, 'the token comes from a file, not the command line');
  const boot = read(join(DEPLOY, 'termux-boot-rc-worker.sh'));
  assert.match(boot, /^#!\/data\/data\/com\.termux\/files\/usr\/bin\/sh/);
  assert.match(boot, /termux-wake-lock/);
  const sh = spawnSync('sh', ['-n', join(DEPLOY, 'termux-boot-rc-worker.sh')], { encoding: 'utf8' });
  assert.equal(sh.status, 0, `the boot script parses: ${sh.stderr}`);
});
