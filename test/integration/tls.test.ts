import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import { startMaster, startWorker, tempDir } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { cert, key };
}

function httpsGet(url: string, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

test('TLS: a self-signed master is safe with a pinned fingerprint, and a wrong pin is refused', async (t) => {
  const root = tempDir(t);
  const { cert, key } = selfSignedCert(root);
  const m = await startMaster(t, { dataDir: join(root, 'master'), extraArgs: ['--tls-cert', cert, '--tls-key', key] });
  const info = JSON.parse(readFileSync(join(m.dataDir, 'master.json'), 'utf8')) as { tls_fingerprint: string };
  assert.match(info.tls_fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/, 'the master publishes its fingerprint');
  // The join line (stderr) carries the pin in the form --tls-fingerprint takes; the pino line may come later.
  const bare = info.tls_fingerprint.replace(/:/g, '');
  await waitFor(() => m.output().includes(`--tls-fingerprint ${bare}`), 10_000, 'the master prints the pin in its join line');

  startWorker(t, m, { dataDir: join(root, 'pinned'), deviceId: 'pinned', extraArgs: ['--tls-fingerprint', info.tls_fingerprint.replace(/:/g, '').toLowerCase()] });
  const wrongPin = 'AB:'.repeat(31) + 'AB';
  const impostorVictim = startWorker(t, m, { dataDir: join(root, 'wrong'), deviceId: 'wrong-pin', extraArgs: ['--tls-fingerprint', wrongPin] });

  const ca = readFileSync(cert);
  const devicesUrl = `https://127.0.0.1:${m.httpPort}/text/devices?format=json`;
  const rows = await waitFor(async () => {
    const list = JSON.parse(await httpsGet(devicesUrl, ca)) as Array<{ device_id: string; status: string }>;
    return list.some((d) => d.device_id === 'pinned' && d.status === 'online') ? list : null;
  }, 20_000, 'the pinned worker registers over TLS');
  await waitFor(() => /does not match --tls-fingerprint/.test(impostorVictim.output()), 10_000, 'the wrong pin is reported');
  assert.ok(!rows.some((d) => d.device_id === 'wrong-pin'), 'a worker whose pin does not match never talks to the master');
  assert.equal(impostorVictim.proc.exitCode, null, 'it keeps retrying rather than exiting');
  const health = JSON.parse(await httpsGet(`https://127.0.0.1:${m.httpPort}/health`, ca)) as { status: string };
  assert.equal(health.status, 'ok', 'HTTP is served over TLS too');
});

test('a worker told --tls that meets a plain master says why it keeps retrying', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master') });
  const w = startWorker(t, m, { dataDir: join(root, 'w'), deviceId: 'tls-on-plain', extraArgs: ['--tls'] });
  await waitFor(() => /"reason":"TLS handshake failed: the master is not serving TLS on this port[^"]*","msg":"master unreachable; retrying"/.test(w.output()), 10_000, () => `the retry line gives the reason:\n${w.output()}`);
  const rows = (await (await fetch(`${m.httpUrl}/text/devices?format=json`)).json()) as Array<{ device_id: string }>;
  assert.equal(rows.some((r) => r.device_id === 'tls-on-plain'), false, 'it never registered');
});
