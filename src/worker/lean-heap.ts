/**
 * Imported first by the worker's entry (src/cli/worker-entry.ts), before its modules load: keeps
 * V8's young generation at its starting 1 MB per semi-space (Node's default
 * lets it grow to 16). A worker allocates little and often sits idle on a
 * 1–2 GB phone; this saves RSS at the cost of more, smaller scavenges.
 * Set at run time, --max-semi-space-size has no effect; the growth factor
 * does (checked with v8.getHeapSpaceStatistics()), on Node 18 and 20 alike.
 *
 * --no-sparkplug: no baseline tier between the interpreter and the
 * optimizing compiler. Warm code runs a little slower; hot code is still
 * optimized. What it saves is the baseline compiler's own pages of the node
 * binary, about 0.5 MB of an idle worker's RSS (npm run bench). Checked at run
 * time on Node 18 (10.2's V8) and 20.
 *
 * Not here: --lite-mode. Set at run time it saved ~8 MB on Node 20 but
 * crashed Node 18 (Raspberry Pi OS bookworm's) with a segfault once code
 * ran. A user who wants it passes it to node itself (README, Termux).
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--semi-space-growth-factor=1');
setFlagsFromString('--no-sparkplug');
