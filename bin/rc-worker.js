#!/usr/bin/env node
// lean-heap caps V8's young generation; it must run before the worker's
// modules are loaded, hence the static import first and the dynamic one after
// (a promise chain, not top-level await: the bundle for phones is CommonJS).
import "../dist/src/worker/lean-heap.js";

void import("../dist/src/cli/worker-cli.js").then(({ main }) => main(process.argv));
