import assert from 'node:assert/strict';
import { test } from 'node:test';
import { joinCommands, joinText, safeHost, TOKEN_PLACEHOLDER, type JoinFacts } from '../../src/http/render/join-lines.js';

const FACTS: JoinFacts = { host: 'nas.local', httpPort: 5000, tcpPort: 8080, https: false, token: 'tok123', insecure: false, tlsFingerprint: null };

test('each platform gets one line: fetch the bundle, then run it against this master with the token', () => {
  const c = joinCommands(FACTS);
  assert.equal(c.linux_macos, 'curl -fsSLo rc-worker.js http://nas.local:5000/worker.js && node rc-worker.js --join nas.local:8080 --token tok123');
  assert.equal(c.termux, `pkg install -y nodejs-lts && ${c.linux_macos}`);
  assert.equal(c.raspberry_pi, `sudo apt-get install -y nodejs && ${c.linux_macos}`);
  assert.equal(c.windows, 'Invoke-WebRequest http://nas.local:5000/worker.js -OutFile rc-worker.js; node rc-worker.js --join nas.local:8080 --token tok123');
});

test('no token: a placeholder and how to get it; insecure: no token flag and a warning; TLS: https and the pin', () => {
  const hidden = joinText({ ...FACTS, token: null });
  assert.ok(hidden.includes(`--token ${TOKEN_PLACEHOLDER}`));
  assert.match(hidden, /Authorization: Bearer/);
  const insecure = joinText({ ...FACTS, token: null, insecure: true });
  assert.doesNotMatch(insecure, /--token/);
  assert.match(insecure, /--insecure/);
  const tls = joinCommands({ ...FACTS, https: true, tlsFingerprint: 'ab12' });
  assert.match(tls.linux_macos, /^curl -fsSLko rc-worker\.js https:\/\/nas\.local:5000\/worker\.js && .* --tls-fingerprint ab12$/);
});

test('only plain host names and addresses are pasted into commands', () => {
  for (const ok of ['nas', 'nas.local', '192.168.1.10', '[fe80::1]', 'my-pi-4']) assert.equal(safeHost(ok), ok, ok);
  for (const bad of [undefined, '', 'a b', 'x;rm -rf ~', '$(id)', 'nas`id`', 'nas|sh', '-oops', '[::1];ls', 'a'.repeat(300)]) {
    assert.equal(safeHost(bad), null, String(bad));
  }
});
