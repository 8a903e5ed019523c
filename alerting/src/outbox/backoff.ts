// Retry delays: exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
// Jitter"): random(0, min(cap, base * 2^attempt)); when the backend sent Retry-After, never earlier.

export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

/** Delay before retry number `attempt` (0-based). `random` returns [0, 1). */
export function retryDelayMs(policy: BackoffPolicy, attempt: number, retryAfterMs: number | undefined, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.max(retryAfterMs ?? 0, Math.floor(random() * ceiling));
}
