/** Restart delays that double per failure up to a ceiling. */
export interface BackoffPolicy {
  initial: number;
  max: number;
}

/**
 * Tracks one restartable thing: failures in a row, reset once it stayed up for stableMs, and
 * the delay before the next restart (initial x 2^(failures - 1), at most max).
 */
export class Backoff {
  private failures = 0;
  private upSince = 0;

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly stableMs: number,
  ) {}

  /** It (re)started now. */
  started(now: number): void {
    this.upSince = now;
  }

  /** It failed now: the delay before the next start. */
  failed(now: number): number {
    this.failures = now - this.upSince > this.stableMs ? 1 : this.failures + 1;
    return Math.min(this.policy.max, this.policy.initial * 2 ** (this.failures - 1));
  }
}
