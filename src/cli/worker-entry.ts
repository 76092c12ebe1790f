/**
 * The worker's entry point, bundled into dist/worker/rc-worker.cjs (the one
 * file phones download from /worker.js, and what bin/rc-worker.js runs).
 * lean-heap caps V8's young generation; it must run before the worker's
 * modules are loaded, hence the static import first and the dynamic one after
 * (a promise chain, not top-level await: the bundle is CommonJS).
 */
import '../worker/lean-heap.js';

void import('./worker-cli.js').then(({ main }) => main(process.argv));
