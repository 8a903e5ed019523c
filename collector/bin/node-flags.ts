/**
 * V8 flags the collector runs with; `periscope start` re-executes itself with them when node was
 * started without them (runWithNodeFlags), so `npm start`, the `periscope` bin and
 * `node collector/bin/periscope.ts start` all get them. The Docker image's ENTRYPOINT gives them
 * to node itself (deploy/Dockerfile; test/deploy/compose.test.ts checks they match), sparing that re-exec.
 *
 * A young generation fixed at 16 MiB per semi-space (V8's default maximum on 64-bit) instead of
 * starting at 1 MiB and growing and shrinking with the allocation rate. Every batch of records
 * crosses several threads as short-lived strings; with a resizing young generation, V8 kept
 * releasing pages and touching fresh ones, and each fresh page is a page fault that the kernel
 * zeroes (a third of the collector's kernel time in `perf` under load). Measured with a live Loki
 * exporter at full speed (bench/exporters.ts' load, ten alternating pairs of runs): page faults
 * per record 0.26 → 0.12–0.19, collector CPU per record 0 to 18 % lower (median about 7 %), and a
 * lower resident size (1.2 → 1.0 GB under load, 485 → 422 MB after it). They must be given to
 * node: the young generation is sized when the heap is created (v8.setFlagsFromString comes too
 * late for the main thread), and NODE_OPTIONS does not accept --min-semi-space-size.
 */
export const NODE_FLAGS = ['--min-semi-space-size=16', '--max-semi-space-size=16'] as const;

const flagName = (flag: string) => flag.split('=')[0];

/**
 * Replaces this process (same pid, same stdio: process.execve,
 * https://nodejs.org/api/process.html#processexecvefile-args-env) with one started with the
 * NODE_FLAGS it lacks; returns when none is missing, or when the platform cannot (Windows: the
 * collector then runs without them). Flags the user gave node (say a larger
 * --max-semi-space-size) come after ours, so theirs win.
 */
export function runWithNodeFlags(): void {
  const missing = NODE_FLAGS.filter((f) => !process.execArgv.some((a) => flagName(a) === flagName(f)));
  if (missing.length === 0 || typeof process.execve !== 'function') return;
  process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)]);
}
