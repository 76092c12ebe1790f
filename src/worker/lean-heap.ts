/**
 * Imported first by bin/rc-worker.js, before the worker's modules load: keeps
 * V8's young generation at its starting 1 MB per semi-space (Node's default
 * lets it grow to 16). A worker allocates little and often sits idle on a
 * 1–2 GB phone; this saves RSS at the cost of more, smaller scavenges.
 * Set at run time, --max-semi-space-size has no effect; the growth factor
 * does (checked with v8.getHeapSpaceStatistics()).
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--semi-space-growth-factor=1');
// Lite mode: no optimizing compilers, feedback vectors only when needed. The
// worker's own JS is control flow around child processes and a socket, so
// speed does not suffer, and an idle worker keeps ~10 MB less RSS (bench).
setFlagsFromString('--lite-mode');
