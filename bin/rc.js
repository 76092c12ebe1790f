#!/usr/bin/env node
// CommonJS like every file here (bin/package.json, for rc-worker's sake); the CLI itself is ES modules.
'use strict';
void import('../dist/src/cli/rc-cli.js').then(({ main }) => main(process.argv));
