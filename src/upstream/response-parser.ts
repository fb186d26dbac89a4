/**
 * Incremental HTTP/1.1 response parser (RFC 9112) for the hand-written upstream client.
 *
 * Design: a head is parsed in one pass over the bytes where they lie, in the read that brought
 * them: the loop that validates each byte (tchar names, no CTLs in values, the checks llhttp makes)
 * also finds the line ends and the blank line. No string is made of a head, and nothing is copied
 * unless a head spans reads; then the pieces are gathered in a growable scratch buffer and parsed
 * once it is complete. Field lines are reported as positions (FieldLines) and body bytes as
 * subarray views of the input.
 *
 * Pipelining: onComplete runs synchronously inside execute(); calling expect() from onComplete lets the same
 * execute() go on to parse the next response in the same buffer. Without it, trailing bytes are an error.
 *
 * Upgrade: after a 101 the parser reports onHead(..., 'none', -1, false) and onComplete(false), then stops:
 * execute() returns the number of bytes it consumed, and data.subarray(consumed) belongs to the new protocol.
 * In every other case execute() consumes all of `data` or throws.
 */
import { UpstreamParseError } from '../errors.js';
import { CHUNKED, CLOSE, CONNECTION, CONTENT_LENGTH, KEEP_ALIVE, PROXY_CONNECTION, TIMEOUT, TRANSFER_ENCODING, eqLowerBytes } from '../http/ascii.js';

export type BodyKind = 'none' | 'length' | 'chunked' | 'close';

export interface ResponseHandlers {
  /** Called once per response when the head is complete (1xx interim responses other than 101 are skipped silently and not reported). `fields` locates the status line and field lines in the input and is valid only during the call (fields.reason() and fields.list() copy them out). bodyKind: 'none' | 'length' | 'chunked' | 'close'. contentLength is the declared length for 'length', else -1. keepAlive: whether the connection may be reused after this response (HTTP/1.1 default true unless `Connection: close`; HTTP/1.0 default false unless `Connection: keep-alive`; 'close' body kind forces false). */
  onHead(status: number, fields: FieldLines, bodyKind: BodyKind, contentLength: number, keepAlive: boolean): void;
  /** A piece of body, de-chunked. May be a subarray view of the input buffer: valid only during the call. */
  onBody(chunk: Buffer): void;
  /** The response is complete (for 'close' bodies: only when finish() is called at EOF). */
  onComplete(keepAlive: boolean): void;
}

export interface ResponseParserOptions {
  /** Largest head (status line + headers + blank line) accepted; also bounds the trailer section. Default 65536. */
  maxHeaderBytes?: number;
}

const CR = 13;
const LF = 10;
const COLON = 58;
const COMMA = 44;
const EQUALS = 61;
/** A Keep-Alive timeout beyond this (a day) is read as this: any hint that large changes nothing. */
const MAX_TIMEOUT_S = 86_400;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const HTTP1 = Buffer.from('HTTP/1.', 'latin1');
/** Chunk-size lines (size + extensions) longer than this are rejected rather than buffered. */
const MAX_CHUNK_LINE = 4096;

/** 1 for bytes that are NOT an RFC 9110 tchar (1 rather than 0 so a loop can OR them without branching). */
const NOT_TCHAR = new Uint8Array(256).fill(1);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") NOT_TCHAR[c.charCodeAt(0)] = 0;
/**
 * 1 for bytes NOT allowed in a reason phrase or field value (allowed: HTAB, SP, VCHAR, obs-text),
 * 2 for obs-text (above 0x7f), which is allowed but noted (FieldLines.nonAscii).
 */
const NOT_TEXT = new Uint8Array(256);
for (let i = 0; i < 32; i++) if (i !== 9) NOT_TEXT[i] = 1;
NOT_TEXT[127] = 1;
NOT_TEXT.fill(2, 128);
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i;
  HEX['0123456789ABCDEF'.charCodeAt(i)] = i;
}
/** chunk-ext, stricter than RFC 9112 (no BWS, value required after '='), so that llhttp accepts whatever we do. */
const CHUNK_EXT = /^(?:;[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:=(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"))?)+$/;

/**
 * Where a head's status line and field lines lie in `buf`, so that no strings need be made per
 * field: a proxy copies what it passes on straight from `buf` (response-head.ts). The status line
 * runs from `start` to its CR at `statusEnd`. Five numbers per field line in `pos`: start of the
 * name, the colon, start and end of the value without optional whitespace, and the line's CR.
 * Valid only during onHead, since `buf` is usually a reused read buffer.
 */
export class FieldLines {
  buf: Buffer = Buffer.alloc(0);
  start = 0;
  statusEnd = 0;
  count = 0;
  pos = new Int32Array(5 * 32);
  /** A Connection field lists more than close and keep-alive: fields it names are hop-by-hop. */
  namesFields = false;

  reset(buf: Buffer, start: number, statusEnd: number): void {
    this.buf = buf;
    this.start = start;
    this.statusEnd = statusEnd;
    this.count = 0;
    this.namesFields = false;
  }

  add(nameStart: number, colon: number, valueStart: number, valueEnd: number, cr: number): void {
    let at = 5 * this.count++;
    if (at + 5 > this.pos.length) {
      const grown = new Int32Array(this.pos.length * 2);
      grown.set(this.pos);
      this.pos = grown;
    }
    const pos = this.pos;
    pos[at++] = nameStart;
    pos[at++] = colon;
    pos[at++] = valueStart;
    pos[at++] = valueEnd;
    pos[at] = cr;
  }

  /** Name of line i as received. */
  name(i: number): string {
    return this.buf.toString('latin1', this.pos[5 * i]!, this.pos[5 * i + 1]!);
  }

  /** The reason phrase of the status line, as received ('' when there is none). */
  reason(): string {
    return this.statusEnd > this.start + 13 ? this.buf.toString('latin1', this.start + 13, this.statusEnd) : '';
  }

  /** Value of line i, trimmed of optional whitespace. */
  value(i: number): string {
    return this.buf.toString('latin1', this.pos[5 * i + 2]!, this.pos[5 * i + 3]!);
  }

  /** A flat [name, value, name, value, ...] copy, names as received. */
  list(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.name(i), this.value(i));
    return out;
  }
}

const enum S {
  Idle, // no response expected: any byte is an error
  Head,
  Length,
  Close,
  ChunkSize,
  ChunkData,
  ChunkCrlf,
  Trailers,
  Upgraded,
  Failed,
}

function fail(code: string, message: string): never {
  throw new UpstreamParseError(code, message);
}
const badStatus = (why: string): never => fail('ERR_UPSTREAM_BAD_STATUS_LINE', `invalid upstream status line: ${why}`);
const badHeader = (why: string): never => fail('ERR_UPSTREAM_BAD_HEADER', `invalid upstream header: ${why}`);
const badChunk = (why: string): never => fail('ERR_UPSTREAM_BAD_CHUNK', `invalid upstream chunked body: ${why}`);
const badTE = (why: string): never => fail('ERR_UPSTREAM_BAD_TRANSFER_ENCODING', `invalid upstream Transfer-Encoding: ${why}`);
const badCL = (why: string): never => fail('ERR_UPSTREAM_BAD_CONTENT_LENGTH', `invalid upstream Content-Length: ${why}`);

const isOWS = (c: number): boolean => c === 32 || c === 9;

export class ResponseParser {
  private readonly h: ResponseHandlers;
  private readonly max: number;
  private readonly lines = new FieldLines();
  private state = S.Idle;
  private error: unknown = null;
  private noBody = false;
  /** Some byte of the current response (interim responses included) has been consumed. */
  private started = false;
  /** Set by a non-keep-alive completion; bytes after it in the same execute() are an error. */
  private closed = false;
  private keepAlive = false;
  private remaining = 0; // body bytes left in a Length body or the current chunk
  private crlfSeen = 0; // bytes of the CRLF after chunk data seen so far

  // Scratch buffer for a head, trailer section or chunk-size line that spans execute() calls.
  private acc: Buffer = Buffer.alloc(0);
  private accLen = 0;
  // Result of section()/line(): where the complete section/line lies.
  private sBuf: Buffer = this.acc;
  private sStart = 0;
  private sEnd = 0;

  // What head() found: the status line, then framing facts from the fields.
  private status = 0;
  private minor = 0;
  private contentLength = -1;
  private sawTE = false;
  private chunked = false;
  private connClose = false;
  private connKeepAlive = false;
  /** The `timeout` of the response's Keep-Alive field, in seconds; -1 without one. */
  private kaTimeoutS = -1;
  /** Transfer-Encoding names a coding other than one chunked (see otherCodings). */
  private codings = false;

  constructor(handlers: ResponseHandlers, options?: ResponseParserOptions) {
    this.h = handlers;
    this.max = options?.maxHeaderBytes ?? 65536;
  }

  /**
   * How long the worker keeps an idle connection, in seconds, as the last response's Keep-Alive
   * field said (`timeout=5` from Node's http server); -1 if it did not say.
   */
  get keepAliveTimeoutS(): number {
    return this.kaTimeoutS;
  }

  /**
   * The last response's Transfer-Encoding named more than a single chunked ("gzip, chunked", two
   * fields): parsed as llhttp does, but a proxy that re-frames the body cannot pass the other
   * codings on, and without them the body would reach the client undecoded and unannounced.
   */
  get otherCodings(): boolean {
    return this.codings;
  }

  /** True while a response is in progress (some bytes received, not yet complete). */
  get inProgress(): boolean {
    return this.started;
  }

  /** Prepare for the next response on this connection. `noBody` is true when the request was HEAD (response has no body whatever its headers say). Must be called before the first execute() of every response. */
  expect(noBody: boolean): void {
    this.state = S.Head;
    this.noBody = noBody;
    this.started = false;
    this.error = null;
    this.accLen = 0;
  }

  /**
   * Feed bytes: data[0, len), len defaulting to all of data, so that a reused read buffer needs no
   * view per read. Throws UpstreamParseError on malformed input (after which the parser is unusable
   * until expect()). Returns the number of bytes consumed: len, except after a 101 (see the module
   * comment).
   */
  execute(data: Buffer, len = data.length): number {
    let pos = 0;
    this.closed = false;
    try {
      while (pos < len) {
        if (this.closed) fail('ERR_UPSTREAM_EXTRA_BYTES', 'upstream sent bytes after a response that closes the connection');
        switch (this.state) {
          case S.Head:
            this.started = true;
            pos = this.readHead(data, pos, len);
            if ((this.state as S) === S.Upgraded) return pos; // readHead() may have changed it
            break;
          case S.Length:
          case S.ChunkData: {
            const n = Math.min(this.remaining, len - pos);
            this.h.onBody(view(data, pos, pos + n));
            pos += n;
            if ((this.remaining -= n) === 0) {
              if (this.state === S.Length) this.complete();
              else {
                this.state = S.ChunkCrlf;
                this.crlfSeen = 0;
              }
            }
            break;
          }
          case S.Close:
            this.h.onBody(view(data, pos, len));
            return len;
          case S.ChunkSize:
            pos = this.line(data, pos, len);
            if (pos < 0) return len;
            this.chunkSize(this.sBuf, this.sStart, this.sEnd);
            break;
          case S.ChunkCrlf:
            if (data[pos++] !== (this.crlfSeen === 0 ? CR : LF)) badChunk('chunk data not followed by CRLF');
            if (++this.crlfSeen === 2) this.state = S.ChunkSize;
            break;
          case S.Trailers:
            pos = this.section(data, pos, len);
            if (pos < 0) return len;
            this.fieldLines(this.sBuf, this.sStart, this.sEnd + 2, false);
            if (this.connClose) this.keepAlive = false;
            this.complete();
            break;
          case S.Failed:
            throw this.error;
          default: // Idle, Upgraded
            fail('ERR_UPSTREAM_EXTRA_BYTES', 'upstream sent bytes when no response was expected');
        }
      }
    } catch (err) {
      this.fail(err);
    }
    return len;
  }

  /** The peer closed the connection. Completes a 'close'-delimited body; throws UpstreamParseError ('ERR_UPSTREAM_TRUNCATED') if a response was in progress and incomplete. */
  finish(): void {
    if (this.state === S.Close) return this.complete();
    if (!this.started || this.state === S.Failed) return;
    this.fail(new UpstreamParseError('ERR_UPSTREAM_TRUNCATED', 'upstream closed the connection in the middle of a response'));
  }

  private fail(err: unknown): never {
    this.state = S.Failed;
    this.error = err;
    this.started = false;
    this.accLen = 0;
    throw err;
  }

  private complete(): void {
    const ka = this.keepAlive;
    this.state = S.Idle;
    this.started = false;
    this.closed = !ka;
    this.h.onComplete(ka);
  }

  /** Reads (part of) a head at data[pos]; returns the position after what it consumed. */
  private readHead(data: Buffer, pos: number, len: number): number {
    let end = -1;
    if (this.accLen === 0) {
      checkPrefix(data, pos, len);
      // The common case, a whole valid head in this read, in one pass. Anything else (a head cut
      // short, too large or invalid) is judged below, the way a head that came in pieces is, so
      // that the outcome and the error do not depend on how the bytes were split.
      try {
        end = this.head(data, pos, Math.min(len, pos + this.max));
      } catch {
        end = -1;
      }
    }
    if (end < 0) {
      end = this.section(data, pos, len);
      if (end < 0) return len;
      this.head(this.sBuf, this.sStart, this.sEnd + 2);
    }
    const status = this.status;
    const interim = status < 200 && status !== 101;
    if (this.sawTE && this.contentLength >= 0) badTE('both Transfer-Encoding and Content-Length (possible request smuggling)');

    if (interim) {
      // RFC 9110 §15.2: never sent to HTTP/1.0; 1xx carries no content. llhttp would give such a 1xx a body or
      // treat the connection as closed, so refusing keeps us from accepting anything it reads differently.
      // ("Content-Length: 0" is harmless and read the same by both.)
      if (this.minor === 0) badStatus('1xx response on HTTP/1.0');
      if (this.sawTE || this.contentLength > 0) badHeader('1xx response with a body length or Transfer-Encoding');
      if (this.connClose) badHeader('1xx response with Connection: close');
      return end; // stay in Head for the final response
    }
    if (status === 101) {
      this.h.onHead(101, this.lines, 'none', -1, false);
      this.started = false;
      this.h.onComplete(false);
      this.state = S.Upgraded;
      return end;
    }

    let kind: BodyKind;
    if (this.noBody || status === 204 || status === 304) kind = 'none';
    else if (this.sawTE) kind = this.chunked ? 'chunked' : 'close';
    else if (this.contentLength >= 0) kind = 'length';
    else kind = 'close';
    // An HTTP/1.0 message with Transfer-Encoding is read, but its connection is not reused
    // (RFC 9112 section 6.1: its framing may be faulty); llhttp would reuse it.
    this.keepAlive = kind !== 'close' && !this.connClose && (this.minor === 1 || (this.connKeepAlive && !this.sawTE));
    const cl = kind === 'length' ? this.contentLength : -1;
    this.h.onHead(status, this.lines, kind, cl, this.keepAlive);

    if (kind === 'none' || cl === 0) this.complete();
    else if (kind === 'length') {
      this.state = S.Length;
      this.remaining = cl;
    } else this.state = kind === 'chunked' ? S.ChunkSize : S.Close;
    return end;
  }

  /**
   * Parses a head at buf[start] (its "HTTP/1." prefix already checked) into status, minor, the
   * framing facts and, for a final response, this.lines. Returns the position after its blank
   * line, or -1 when the head does not end before `stop`. Throws at the first invalid byte.
   */
  private head(buf: Buffer, start: number, stop: number): number {
    // Status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF.
    let eol = start + 7;
    while (eol < stop && buf[eol] !== CR) eol++;
    if (eol + 1 >= stop) return -1;
    if (buf[eol + 1] !== LF) badHeader('bare CR');
    const minor = buf[start + 7]! - 48;
    const d0 = buf[start + 9]! - 48, d1 = buf[start + 10]! - 48, d2 = buf[start + 11]! - 48;
    if ((minor !== 0 && minor !== 1) || buf[start + 8] !== 32) badStatus('expected HTTP/1.0 or HTTP/1.1');
    if (!(d0 >= 1 && d0 <= 9 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9)) badStatus('expected a 3-digit status code');
    if (eol !== start + 12 && (eol < start + 12 || buf[start + 12] !== 32)) badStatus('expected a space after the status code');
    let reason = 0;
    for (let i = start + 13; i < eol; i++) reason |= NOT_TEXT[buf[i]!]!;
    if ((reason & 1) !== 0) badStatus('control character in the reason phrase');
    this.status = d0 * 100 + d1 * 10 + d2;
    this.minor = minor;
    this.contentLength = -1;
    this.sawTE = this.chunked = this.connClose = this.connKeepAlive = this.codings = false;
    this.kaTimeoutS = -1;
    this.lines.reset(buf, start, eol);
    return this.fieldLines(buf, eol + 2, stop, this.status >= 200 || this.status === 101);
  }

  /**
   * Parses and validates the field lines from buf[p] up to and including the blank line that ends
   * them; returns the position after it, or -1 when they do not end before `stop`. Every byte is
   * checked (names: tchar; values: no NOT_TEXT byte), so control characters, bare CR/LF and
   * obs-fold are rejected. Records each line in this.lines if `record` (not for interim responses
   * and trailers).
   */
  private fieldLines(buf: Buffer, p: number, stop: number, record: boolean): number {
    const trailer = this.state === S.Trailers;
    for (;;) {
      // One pass over the line's bytes finds the colon and the CR and validates on the way: the
      // name is tchar up to the colon (SP/HTAB are not tchar, so whitespace before the colon and
      // obs-fold fail), the value has no NOT_TEXT byte up to the CR.
      let i = p;
      while (i < stop && NOT_TCHAR[buf[i]!] === 0) i++;
      if (i + 1 >= stop) return -1;
      if (buf[i] !== COLON) {
        if (buf[i] !== CR) badHeader('invalid character in field name');
        if (i > p) badHeader('line without a colon');
        if (buf[i + 1] !== LF) badHeader('bare CR');
        return i + 2; // the blank line
      }
      const colon = i;
      if (colon === p) badHeader('empty field name');
      let text = 0;
      let c = 0;
      while (++i < stop && (c = buf[i]!) !== CR) text |= NOT_TEXT[c]!;
      if (i + 1 >= stop) return -1;
      const eol = i;
      if (buf[i + 1] !== LF) badHeader('bare CR');
      if ((text & 1) !== 0) badHeader('control character in field value');
      let vs = colon + 1;
      let ve = eol;
      while (vs < ve && isOWS(buf[vs]!)) vs++;
      while (ve > vs && isOWS(buf[ve - 1]!)) ve--;
      // Only the framing/connection fields need a closer look; dispatch on name length first.
      switch (colon - p) {
        case 10:
          if (eqLowerBytes(buf, p, CONNECTION)) {
            // The usual values first, without splitting tokens.
            if (ve - vs === 10 && eqLowerBytes(buf, vs, KEEP_ALIVE)) this.connKeepAlive = true;
            else if (ve - vs === 5 && eqLowerBytes(buf, vs, CLOSE)) this.connClose = true;
            else if (this.connection(buf, vs, ve, true) && record) this.lines.namesFields = true;
          } else if (!trailer && eqLowerBytes(buf, p, KEEP_ALIVE)) {
            // A second Keep-Alive line without a timeout leaves the first one's.
            const timeout = keepAliveTimeout(buf, vs, ve);
            if (timeout >= 0) this.kaTimeoutS = timeout;
          }
          break;
        case 14:
          if (eqLowerBytes(buf, p, CONTENT_LENGTH)) {
            if (trailer) badHeader('Content-Length in trailers');
            if (this.contentLength >= 0) badCL('more than one Content-Length');
            this.contentLength = parseLength(buf, vs, eol);
          }
          break;
        case 16:
          // llhttp treats this like Connection; we only honour its "close" (the conservative half).
          if (eqLowerBytes(buf, p, PROXY_CONNECTION)) this.connection(buf, vs, ve, false);
          break;
        case 17:
          if (eqLowerBytes(buf, p, TRANSFER_ENCODING)) {
            if (trailer) badHeader('Transfer-Encoding in trailers');
            this.transferEncoding(buf, vs, eol);
          }
          break;
      }
      if (record) this.lines.add(p, colon, vs, ve, eol);
      p = eol + 2;
    }
  }

  /** Connection tokens in buf[start, end): comma-separated, OWS-trimmed, case-insensitive. True if some token is neither close nor keep-alive. */
  private connection(buf: Buffer, start: number, end: number, allowKeepAlive: boolean): boolean {
    let other = false;
    let i = start;
    while (i <= end) {
      let j = i;
      while (j < end && buf[j] !== COMMA) j++;
      let a = i;
      let b = j;
      while (a < b && isOWS(buf[a]!)) a++;
      while (b > a && isOWS(buf[b - 1]!)) b--;
      if (b - a === 5 && eqLowerBytes(buf, a, CLOSE)) this.connClose = true;
      else if (b - a === 10 && eqLowerBytes(buf, a, KEEP_ALIVE)) this.connKeepAlive ||= allowKeepAlive;
      else if (b > a) other = true;
      i = j + 1;
    }
    return other;
  }

  /** Value buf[start, end) (leading OWS skipped, trailing not). The last Transfer-Encoding field decides: chunked iff its last coding is "chunked". */
  private transferEncoding(buf: Buffer, start: number, end: number): void {
    // llhttp reads "chunked<HTAB>" as not chunked (body until close); refusing HTAB avoids reading a body differently.
    for (let i = start; i < end; i++) if (buf[i] === 9) badTE('HTAB in value');
    while (end > start && buf[end - 1] === 32) end--;
    if (start === end) badTE('empty value');
    let a = end - 1;
    while (a >= start && buf[a] !== COMMA) a--;
    a++;
    while (a < end && buf[a] === 32) a++;
    this.chunked = end - a === 7 && eqLowerBytes(buf, a, CHUNKED);
    // One field holding one coding, chunked: anything else codes the body beyond its framing.
    this.codings ||= this.sawTE || a !== start || !this.chunked;
    this.sawTE = true;
  }

  /** Parses a chunk-size line buf[start, end) that ends in LF. */
  private chunkSize(buf: Buffer, start: number, end: number): void {
    const cr = end - 2;
    if (cr < start || buf[cr] !== CR) badChunk('chunk-size line not ending in CRLF');
    let i = start;
    let size = 0;
    for (; i < cr; i++) {
      const d = HEX[buf[i]!]!;
      if (d < 0) break;
      if ((size = size * 16 + d) > Number.MAX_SAFE_INTEGER) badChunk('chunk size too large');
    }
    if (i === start) badChunk('missing chunk size');
    if (i < cr && !CHUNK_EXT.test(buf.toString('latin1', i, cr))) badChunk('invalid chunk size or extension');
    if (size === 0) this.state = S.Trailers;
    else {
      this.state = S.ChunkData;
      this.remaining = size;
    }
  }

  /**
   * Locates a head or trailer section starting at data[pos], data ending at len: on success sets sBuf/sStart/sEnd to
   * its field lines (each with its CRLF, without the blank line) and returns the position after the blank line;
   * otherwise stashes the bytes and returns -1.
   */
  private section(data: Buffer, pos: number, len: number): number {
    const limit = this.max;
    if (this.accLen === 0) {
      // The whole section is in `data`: nothing is copied.
      const end = sectionEnd(data, pos, pos, len);
      if (end >= 0) {
        if (end - pos > limit) tooLarge();
        this.sBuf = data;
        this.sStart = pos;
        this.sEnd = end - 2;
        return end;
      }
      if (len - pos >= limit) tooLarge();
      this.append(data, pos, len);
      return -1;
    }
    const old = this.accLen;
    this.append(data, pos, pos + Math.min(len - pos, limit - old));
    const acc = this.acc.subarray(0, this.accLen);
    if (this.state === S.Head) checkPrefix(acc, 0, acc.length);
    const end = sectionEnd(acc, 0, Math.max(0, old - 3), acc.length);
    if (end < 0) {
      if (acc.length >= limit) tooLarge();
      return -1;
    }
    this.sBuf = acc;
    this.sStart = 0;
    this.sEnd = end - 2;
    this.release();
    return pos + end - old;
  }

  /** Like section(), for one chunk-size line (ending in LF). */
  private line(data: Buffer, pos: number, len: number): number {
    if (this.accLen === 0) {
      const lf = data.indexOf(LF, pos);
      if (lf >= 0 && lf < len) {
        if (lf + 1 - pos > MAX_CHUNK_LINE) badChunk('chunk-size line too long');
        this.sBuf = data;
        this.sStart = pos;
        this.sEnd = lf + 1;
        return lf + 1;
      }
      if (len - pos >= MAX_CHUNK_LINE) badChunk('chunk-size line too long');
      this.append(data, pos, len);
      return -1;
    }
    const old = this.accLen;
    this.append(data, pos, pos + Math.min(len - pos, MAX_CHUNK_LINE - old));
    const acc = this.acc.subarray(0, this.accLen);
    const lf = acc.indexOf(LF, old);
    if (lf < 0) {
      if (acc.length >= MAX_CHUNK_LINE) badChunk('chunk-size line too long');
      return -1;
    }
    this.sBuf = acc;
    this.sStart = 0;
    this.sEnd = lf + 1;
    this.release();
    return pos + lf + 1 - old;
  }

  private append(data: Buffer, from: number, to: number): void {
    const need = this.accLen + (to - from);
    if (need > this.acc.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.acc.length * 2, 512));
      this.acc.copy(grown, 0, 0, this.accLen);
      this.acc = grown;
    }
    data.copy(this.acc, this.accLen, from, to);
    this.accLen = need;
  }

  /** Empties the scratch buffer; a big one is dropped so idle connections do not pin memory. (sBuf may still view it.) */
  private release(): void {
    this.accLen = 0;
    if (this.acc.length > 4096) this.acc = Buffer.alloc(0);
  }
}

/**
 * End (exclusive) of a section starting at buf[start], buf ending at stop: after the first CRLFCRLF, or after a
 * leading CRLF (empty section). (buf may be a reused read buffer whose bytes past stop are stale.)
 */
function sectionEnd(buf: Buffer, start: number, from: number, stop: number): number {
  if (stop - start >= 2 && buf[start] === CR && buf[start + 1] === LF) return start + 2;
  const i = buf.indexOf(CRLFCRLF, from);
  return i >= 0 && i + 4 <= stop ? i + 4 : -1;
}

/** Rejects a head early (without waiting for its end) when it does not start with "HTTP/1.". */
function checkPrefix(buf: Buffer, start: number, stop: number): void {
  const n = Math.min(HTTP1.length, stop - start);
  for (let i = 0; i < n; i++) if (buf[start + i] !== HTTP1[i]) badStatus('expected HTTP/1.x');
}

let viewOf: Buffer | null = null;
let viewStart = 0;
let viewEnd = 0;
let lastView: Buffer = Buffer.alloc(0);

/**
 * data[start, end) as a view. Making one costs more than parsing a small response, and a worker's
 * responses mostly lie at the same place in each read, so the last view is reused when it matches.
 */
function view(data: Buffer, start: number, end: number): Buffer {
  if (start === 0 && end === data.length) return data;
  if (data !== viewOf || start !== viewStart || end !== viewEnd) {
    viewOf = data;
    viewStart = start;
    viewEnd = end;
    lastView = data.subarray(start, end);
  }
  return lastView;
}

function tooLarge(): never {
  fail('ERR_UPSTREAM_HEADERS_TOO_LARGE', 'upstream response head or trailers exceed maxHeaderBytes');
}

/**
 * The `timeout` parameter of a Keep-Alive value in buf[start, end) (`timeout=5, max=1000`; RFC
 * 2068 section 19.7.1.1, kept by RFC 7230 only as a hop-by-hop field), in seconds; -1 if absent
 * or not a plain number. Only a hint, so anything unusual reads as no hint at all.
 */
export function keepAliveTimeout(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    while (i < end && (buf[i] === COMMA || isOWS(buf[i]!))) i++;
    if (end - i > TIMEOUT.length && eqLowerBytes(buf, i, TIMEOUT) && buf[i + TIMEOUT.length] === EQUALS) {
      const digits = i + TIMEOUT.length + 1;
      let v = 0;
      let j = digits;
      for (; j < end && buf[j]! >= 48 && buf[j]! <= 57; j++) v = Math.min(v * 10 + buf[j]! - 48, MAX_TIMEOUT_S);
      if (j === digits) return -1;
      while (j < end && isOWS(buf[j]!)) j++;
      return j === end || buf[j] === COMMA ? v : -1;
    }
    while (i < end && buf[i] !== COMMA) i++;
  }
  return -1;
}

/**
 * Content-Length value buf[start, end) (leading OWS already skipped): 1*DIGIT, at most Number.MAX_SAFE_INTEGER,
 * then only SP: llhttp rejects a trailing HTAB here, so we do too.
 */
function parseLength(buf: Buffer, start: number, end: number): number {
  while (end > start && buf[end - 1] === 32) end--;
  if (start === end) badCL('empty value');
  let v = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) badCL('not a decimal number');
    if ((v = v * 10 + d) > Number.MAX_SAFE_INTEGER) badCL('too large');
  }
  return v;
}
