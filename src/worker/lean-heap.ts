/**
 * Imported first by the worker's entry (src/cli/worker-entry.ts), before its modules load: keeps
 * V8's young generation at its starting 1 MB per semi-space (Node's default
 * lets it grow to 16). A worker allocates little and often sits idle on a
 * 1–2 GB phone; this saves RSS at the cost of more, smaller scavenges.
 * Set at run time, --max-semi-space-size has no effect; the growth factor
 * does (checked with v8.getHeapSpaceStatistics()), on Node 18 and 20 alike.
 *
 * Not here: --lite-mode. Set at run time it saved ~8 MB on Node 20 but
 * crashed Node 18 (Raspberry Pi OS bookworm's) with a segfault once code
 * ran. A user who wants it passes it to node itself (README, Termux).
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--semi-space-growth-factor=1');
