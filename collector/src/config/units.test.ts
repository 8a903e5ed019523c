import { describe, expect, it } from 'vitest';
import { parseBytes } from './units.ts';

describe('parseBytes', () => {
  it.each([
    { name: 'KB, MB, GB are powers of 1000 (SI)', value: '512MB', bytes: 512e6 },
    { name: '10GB', value: '10GB', bytes: 1e10 },
    { name: 'KiB, MiB, GiB are powers of 1024', value: '512MiB', bytes: 512 * 1024 ** 2 },
    { name: "Kubernetes' Gi is GiB", value: '10Gi', bytes: 10 * 1024 ** 3 },
    { name: "Kubernetes' Ki is KiB", value: '64Ki', bytes: 64 * 1024 },
    { name: 'a fraction', value: '1.5KiB', bytes: 1536 },
    { name: 'no unit: bytes', value: '1024', bytes: 1024 },
    // 1000³ to Kubernetes, 1024³ to Prometheus and Loki: refused rather than guessed.
    { name: 'a bare G', value: '10G', bytes: Number.NaN },
    { name: 'a bare M', value: '16M', bytes: Number.NaN },
  ])('$name', ({ value, bytes }) => {
    expect(parseBytes(value)).toBe(bytes);
  });
});
