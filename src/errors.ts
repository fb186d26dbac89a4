/** Base class for every error weighbridge raises on purpose: a stable code plus an optional cause. */
export class WeighbridgeError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A configuration file or command-line flag is invalid; the message names the field. */
export class ConfigError extends WeighbridgeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONFIG', message, options);
  }
}

/** An upstream sent bytes that are not a valid HTTP/1.1 response. */
export class UpstreamParseError extends WeighbridgeError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

/** A shared-memory table was asked to hold more than it was sized for. */
export class CapacityError extends WeighbridgeError {
  constructor(message: string) {
    super('ERR_CAPACITY', message);
  }
}

/** Why a bus message was refused at a transport boundary. */
export type MessageRejection = 'too-large' | 'not-json' | 'invalid' | 'unexpected-type';

/** A message arriving on (or leaving for) the bus is not a valid member of the catalogue. */
export class BusMessageError extends WeighbridgeError {
  constructor(
    readonly reason: MessageRejection,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`ERR_BUS_${reason.toUpperCase().replace('-', '_')}`, message, options);
  }
}

/** A bus request got no reply in time, or the bus closed first. */
export class BusRequestError extends WeighbridgeError {
  constructor(code: 'ERR_BUS_TIMEOUT' | 'ERR_BUS_CLOSED', message: string) {
    super(code, message);
  }
}

/** The bus cannot reach its servers for a reason that waiting will not fix (credentials, TLS). */
export class BusConnectError extends WeighbridgeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_BUS_CONNECT', message, options);
  }
}

/** The state store (Redis) refused or could not be reached; `code` says which. */
export class StateStoreError extends WeighbridgeError {
  constructor(code: 'ERR_STATE_UNAVAILABLE' | 'ERR_STATE_AUTH' | 'ERR_STATE_CORRUPT', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A worker driver cannot do its job: Docker unreachable, an image missing, a worker never ready. */
export class DriverError extends WeighbridgeError {
  constructor(code: 'ERR_DOCKER_UNREACHABLE' | 'ERR_DOCKER_IMAGE' | 'ERR_DOCKER_NETWORK' | 'ERR_WORKER_NOT_READY', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
