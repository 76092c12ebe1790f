#!/usr/bin/env node
// The worker runs as one file, dist/worker/rc-worker.cjs: the same bytes the
// master serves phones at /worker.js, so what is tested and measured is what
// devices run, and the schemas come precompiled (about 18 MB less RSS than the
// unbundled modules). `npm run build` makes it.
// CommonJS (bin/package.json): an ES module entry would load Node's ES module
// loader first, about 1 MB of an idle worker's RSS.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const bundle = join(__dirname, '..', 'dist', 'worker', 'rc-worker.cjs');
if (!existsSync(bundle)) {
  process.stderr.write('rc-worker: dist/worker/rc-worker.cjs is missing; run `npm run build` first\n');
  process.exit(2);
}
require(bundle);
