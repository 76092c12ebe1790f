import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectFailure } from '../../src/worker/worker.js';

test('a failed connect is one readable line for the retry log', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8080'), { code: 'ECONNREFUSED' });
  assert.equal(connectFailure(refused), 'connect ECONNREFUSED 127.0.0.1:8080', 'the code is not repeated when the message has it');
  const dns = Object.assign(new Error('getaddrinfo failed'), { code: 'ENOTFOUND' });
  assert.equal(connectFailure(dns), 'ENOTFOUND: getaddrinfo failed');
  const ssl = Object.assign(new Error('808CC4EC097F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:\n'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' });
  assert.match(connectFailure(ssl), /^TLS handshake failed: the master is not serving TLS on this port \(drop --tls/);
  assert.equal(connectFailure(new Error('connect to nas:8080 timed out\nmore')), 'connect to nas:8080 timed out');
  assert.equal(connectFailure('plain string'), 'plain string');
});
