export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long it stays open the first time; doubled at each failed trial, up to maxCooldownMs. */
  cooldownMs: number;
  maxCooldownMs: number;
}

export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * Closed: requests flow. After `failureThreshold` consecutive failures: open, no request for the cooldown. Then
 * half-open: one trial request; success closes the circuit, failure opens it again for a longer cooldown.
 * A sink's worker sends one batch at a time, so "one trial" needs no bookkeeping beyond this.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private cooldown: number;

  constructor(
    private readonly options: CircuitBreakerOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.cooldown = options.cooldownMs;
  }

  get state(): CircuitState {
    if (this.failures < this.options.failureThreshold) return 'closed';
    return this.now() < this.openUntil ? 'open' : 'half-open';
  }

  /** How long to wait before the next request may go (0: now). */
  waitMs(): number {
    return this.state === 'open' ? this.openUntil - this.now() : 0;
  }

  success(): void {
    this.failures = 0;
    this.cooldown = this.options.cooldownMs;
  }

  /** Returns true when this failure opened (or re-opened) the circuit. */
  failure(): boolean {
    const wasHalfOpen = this.state === 'half-open';
    this.failures++;
    if (wasHalfOpen) {
      this.cooldown = Math.min(this.cooldown * 2, this.options.maxCooldownMs);
    } else if (this.failures !== this.options.failureThreshold) {
      return false;
    }
    this.openUntil = this.now() + this.cooldown;
    return true;
  }
}
