#!/usr/bin/env node
// The worker runs as one file, dist/worker/rc-worker.cjs: the same bytes the
// master serves phones at /worker.js, so what is tested and measured is what
// devices run, and the schemas come precompiled (about 18 MB less RSS than the
// unbundled modules). `npm run build` makes it.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const bundle = fileURLToPath(new URL("../dist/worker/rc-worker.cjs", import.meta.url));
if (!existsSync(bundle)) {
  process.stderr.write("rc-worker: dist/worker/rc-worker.cjs is missing; run `npm run build` first\n");
  process.exit(2);
}
createRequire(import.meta.url)(bundle);
