/**
 * V8 flags the collector runs with (`npm start`, the Dockerfile, the `periscope` bin's shebang,
 * and the test and benchmark helper that starts it; test/config.test.ts checks they agree).
 *
 * A young generation fixed at 16 MiB per semi-space (V8's default maximum on 64-bit) instead of
 * starting at 1 MiB and growing and shrinking with the allocation rate. Every batch of records
 * crosses several threads as short-lived strings; with a resizing young generation, V8 kept
 * releasing pages and touching fresh ones, and each fresh page is a page fault that the kernel
 * zeroes (a third of the collector's kernel time in `perf` under load). Measured with a live Loki
 * exporter at full speed (bench/exporters.ts' load, alternating runs): page faults per record
 * 0.26 → 0.12–0.19, collector CPU per record 0 to 18 % lower (median about 7 %), and a lower
 * resident size (1.2 → 1.0 GB under load, 485 → 422 MB after it). Both must be command-line
 * flags: the young generation is sized when the heap is created (v8.setFlagsFromString comes too
 * late for the main thread), and NODE_OPTIONS does not accept --min-semi-space-size.
 * https://v8.dev/blog/orinoco-parallel-scavenger
 */
export const NODE_FLAGS = ['--min-semi-space-size=16', '--max-semi-space-size=16'] as const;
