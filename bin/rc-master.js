#!/usr/bin/env node
// CommonJS like every file here (bin/package.json, for rc-worker's sake); the master itself is ES modules.
'use strict';
void import('../dist/src/cli/master-cli.js').then(({ main }) => main(process.argv));
