import { WeighbridgeError } from '../errors.js';

/** How an exchange with an upstream worker failed; drives the status code and the retry rule. */
export const FailureKind = {
  /** The TCP connection could not be made (refused, unreachable): nothing was sent. */
  connect: 'connect',
  /** The TCP connection was not made within timeouts.connectMs: nothing was sent. */
  connectTimeout: 'connect-timeout',
  /** The connection was reset or closed before the response ended. */
  reset: 'reset',
  /** No response head within timeouts.responseHeadersMs. */
  headersTimeout: 'headers-timeout',
  /** No byte in either direction for timeouts.idleMs during the body. */
  idleTimeout: 'idle-timeout',
  /** The upstream sent something that is not valid HTTP/1.1. */
  protocol: 'protocol',
} as const;
export type FailureKindValue = (typeof FailureKind)[keyof typeof FailureKind];

export class UpstreamFailure extends WeighbridgeError {
  constructor(
    readonly kind: FailureKindValue,
    /** True once any byte of the response arrived: past that point a retry could duplicate output. */
    readonly responseStarted: boolean,
    message: string,
    options?: { cause?: unknown },
    /**
     * None of the request reached the worker (the connect failed, or the connection closed while
     * the request was still held): the request body's writes so far, to send elsewhere as they
     * are, whatever the method. Null once any byte of the request left.
     */
    readonly unsentBody: readonly (string | Uint8Array)[] | null = null,
  ) {
    super(`ERR_UPSTREAM_${kind.toUpperCase().replace('-', '_')}`, message, options);
  }

  /**
   * The connection was reset or closed before any response byte: an idempotent request may be
   * sent again. (A failed connect sent nothing at all: see unsentBody.)
   */
  get safeToRetry(): boolean {
    return !this.responseStarted && this.kind === FailureKind.reset;
  }

  /** The status a proxy answers with when this failure ends an exchange. */
  get status(): 502 | 504 {
    return this.kind === FailureKind.connectTimeout || this.kind === FailureKind.headersTimeout || this.kind === FailureKind.idleTimeout ? 504 : 502;
  }
}
