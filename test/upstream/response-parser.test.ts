import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { UpstreamParseError } from '../../src/errors.js';
import { ResponseParser, keepAliveTimeout, type BodyKind } from '../../src/upstream/response-parser.js';

// ---------------------------------------------------------------------------------------------------------------
// Driving our parser

interface Head {
  status: number;
  reason: string;
  headers: string[];
  bodyKind: BodyKind;
  contentLength: number;
  keepAlive: boolean;
}

/** What one response (or a failure) looked like from the outside. */
interface Outcome {
  ok: boolean;
  error?: string;
  head?: Head;
  body: Buffer;
  completeKeepAlive?: boolean;
  /** Bytes consumed before the parser stopped (101 only). */
  consumed?: number;
}

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/**
 * The connection's way of feeding the parser: every read lands at the start of one reused buffer,
 * and execute() is told its length. What lies past it is stale: the bytes of earlier reads, and at
 * first a pattern full of what the parser looks for (line ends, blank lines, a status line).
 */
let readBuffer = Buffer.from('\r\n\r\nHTTP/1.1 200 OK\r\n\n0\r\n\r'.repeat(4096), 'latin1');
function read(parser: ResponseParser, piece: Buffer): number {
  if (piece.length > readBuffer.length) readBuffer = Buffer.concat([piece, readBuffer]);
  piece.copy(readBuffer);
  return parser.execute(readBuffer, piece.length);
}

/** Parses one response fed as `pieces`, then calls finish() (unless it upgraded), like the connection does. */
function ours(pieces: Buffer[], noBody = false, maxHeaderBytes?: number): Outcome {
  const bodies: Buffer[] = [];
  let head: Head | undefined;
  let completeKeepAlive: boolean | undefined;
  let completions = 0;
  const parser = new ResponseParser(
    {
      onHead: (status, fields, bodyKind, contentLength, keepAlive) => {
        assert.equal(head, undefined, 'onHead called twice');
        head = { status, reason: fields.reason(), headers: fields.list(), bodyKind, contentLength, keepAlive };
      },
      onBody: (chunk) => bodies.push(Buffer.from(chunk)), // a copy: the view is valid only during the call
      onComplete: (keepAlive) => {
        completions++;
        completeKeepAlive = keepAlive;
      },
    },
    maxHeaderBytes === undefined ? undefined : { maxHeaderBytes },
  );
  parser.expect(noBody);
  let offset = 0;
  try {
    for (const piece of pieces) {
      const n = read(parser, piece);
      if (head?.status === 101) {
        return { ok: completions === 1, head, body: Buffer.concat(bodies), completeKeepAlive, consumed: offset + n };
      }
      assert.equal(n, piece.length, 'execute consumed less than its input without a 101');
      offset += n;
    }
    parser.finish();
  } catch (err) {
    if (!(err instanceof UpstreamParseError)) throw err;
    assert.equal(parser.inProgress, false);
    return { ok: false, error: err.code, head, body: Buffer.concat(bodies) };
  }
  assert.ok(completions <= 1);
  assert.equal(parser.inProgress, false);
  return { ok: completions === 1, error: completions === 1 ? undefined : 'never completed', head, body: Buffer.concat(bodies), completeKeepAlive };
}

const whole = (s: string, noBody = false): Outcome => ours([latin1(s)], noBody);

function errorOf(s: string | Buffer[], noBody = false, maxHeaderBytes?: number): string | undefined {
  return ours(typeof s === 'string' ? [latin1(s)] : s, noBody, maxHeaderBytes).error;
}

// ---------------------------------------------------------------------------------------------------------------
// Unit tests

test('content-length body', () => {
  const r = whole('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello');
  assert.equal(r.ok, true);
  assert.deepEqual(r.head, {
    status: 200,
    reason: 'OK',
    headers: ['Content-Type', 'text/plain', 'Content-Length', '5'],
    bodyKind: 'length',
    contentLength: 5,
    keepAlive: true,
  });
  assert.equal(r.body.toString(), 'hello');
  assert.equal(r.completeKeepAlive, true);
});

test('header names keep their case; values lose optional whitespace; empty reason and values are fine', () => {
  const r = whole('HTTP/1.1 404\r\nX-MiXeD:  \t a b\t \r\nEmpty:\r\nobs: caf\xe9\r\nContent-Length: 0\r\n\r\n');
  assert.equal(r.ok, true);
  assert.equal(r.head!.status, 404);
  assert.equal(r.head!.reason, '');
  assert.deepEqual(r.head!.headers, ['X-MiXeD', 'a b', 'Empty', '', 'obs', 'caf\xe9', 'Content-Length', '0']);
  assert.equal(whole('HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n').head!.reason, '');
  assert.equal(whole('HTTP/1.1 200 A  reason\there\r\nContent-Length: 0\r\n\r\n').head!.reason, 'A  reason\there');
});

test('a body piece is a view of the input buffer, not a copy', () => {
  const input = latin1('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello');
  const parser = new ResponseParser({
    onHead() {},
    onBody(chunk) {
      assert.equal(chunk.buffer, input.buffer);
      assert.equal(chunk.toString(), 'hello');
    },
    onComplete() {},
  });
  parser.expect(false);
  assert.equal(parser.execute(input), input.length);
});

test('chunked body with extensions and trailers', () => {
  const r = whole(
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '5;name=value;flag\r\nhello\r\n' +
      '000A;q="quoted \\" ext"\r\n, world!!!\r\n' +
      'b\r\n and more.\n\r\n' +
      '0;last=1\r\nX-Trailer: t\r\nServer-Timing: db;dur=53\r\n\r\n',
  );
  assert.equal(r.ok, true, r.error);
  assert.equal(r.head!.bodyKind, 'chunked');
  assert.equal(r.head!.contentLength, -1);
  assert.equal(r.body.toString(), 'hello, world!!! and more.\n');
  assert.equal(r.completeKeepAlive, true);
  // Without trailers, and with upper-case hex and "gzip, chunked".
  const r2 = whole('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n');
  assert.equal(r2.ok, true, r2.error);
  assert.equal(r2.body.toString(), '0123456789');
  // A trailer "Connection: close" is honoured when the response completes.
  const r3 = whole('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nConnection: close\r\n\r\n');
  assert.equal(r3.head!.keepAlive, true);
  assert.equal(r3.completeKeepAlive, false);
});

test('close-delimited body completes only at finish()', () => {
  const events: string[] = [];
  const parser = new ResponseParser({
    onHead: (status, _h, kind, cl, ka) => events.push(`head ${status} ${kind} ${cl} ${ka}`),
    onBody: (b) => events.push(`body ${b.toString()}`),
    onComplete: (ka) => events.push(`complete ${ka}`),
  });
  parser.expect(false);
  parser.execute(latin1('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome'));
  parser.execute(latin1(' more'));
  assert.equal(parser.inProgress, true);
  assert.deepEqual(events, ['head 200 close -1 false', 'body some', 'body  more']);
  parser.finish();
  assert.deepEqual(events.at(-1), 'complete false');
  assert.equal(parser.inProgress, false);
  // Transfer-Encoding that does not end in chunked is also read until close.
  const r = whole('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
  assert.equal(r.head!.bodyKind, 'close');
  assert.equal(r.body.toString(), '5\r\nhello\r\n0\r\n\r\n');
});

test('HEAD, 204 and 304 responses have no body whatever their headers say', () => {
  for (const [text, noBody] of [
    ['HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n', true],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', true],
    ['HTTP/1.1 200 OK\r\n\r\n', true],
    ['HTTP/1.1 204 No Content\r\n\r\n', false],
    ['HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n', false],
    ['HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\nETag: "x"\r\n\r\n', false],
    ['HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n', false],
  ] as const) {
    const r = whole(text, noBody);
    assert.equal(r.ok, true, `${JSON.stringify(text)}: ${r.error}`);
    assert.equal(r.head!.bodyKind, 'none');
    assert.equal(r.head!.contentLength, -1);
    assert.equal(r.head!.keepAlive, true);
    assert.equal(r.body.length, 0);
  }
  // The header is still checked: an invalid Content-Length is an error even when there is no body.
  assert.equal(errorOf('HTTP/1.1 304 Not Modified\r\nContent-Length: x\r\n\r\n'), 'ERR_UPSTREAM_BAD_CONTENT_LENGTH');
});

test('100-continue and other interim responses are skipped before the final response', () => {
  const r = whole(
    'HTTP/1.1 100 Continue\r\n\r\n' +
      'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  );
  assert.equal(r.ok, true);
  assert.equal(r.head!.status, 200);
  assert.deepEqual(r.head!.headers, ['Content-Length', '2']);
  assert.equal(r.body.toString(), 'ok');
  assert.equal(whole('HTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n').head?.status, 204);
  // The response is in progress between the interim and the final response.
  const parser = new ResponseParser({ onHead() {}, onBody() {}, onComplete() {} });
  parser.expect(false);
  parser.execute(latin1('HTTP/1.1 100 Continue\r\n\r\n'));
  assert.equal(parser.inProgress, true);
  assert.throws(() => parser.finish(), { code: 'ERR_UPSTREAM_TRUNCATED' });
});

test('101 Switching Protocols stops the parser and reports the bytes consumed', () => {
  const head = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n';
  const frame = '\x81\x05hello';
  const r = whole(head + frame);
  assert.equal(r.ok, true);
  assert.deepEqual(r.head, {
    status: 101,
    reason: 'Switching Protocols',
    headers: ['Upgrade', 'websocket', 'Connection', 'Upgrade'],
    bodyKind: 'none',
    contentLength: -1,
    keepAlive: false,
  });
  assert.equal(r.consumed, head.length);
  assert.equal(r.completeKeepAlive, false);
  // After an interim response too, and when split.
  const r2 = ours([latin1('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 S\r\n'), latin1('\r\nrest')]);
  assert.equal(r2.consumed, 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 S\r\n\r\n'.length);
  // The parser will not read the new protocol; finish() afterwards is harmless.
  const parser = new ResponseParser({ onHead() {}, onBody() {}, onComplete() {} });
  parser.expect(false);
  assert.equal(parser.execute(latin1(head + frame)), head.length);
  assert.equal(parser.inProgress, false);
  assert.throws(() => parser.execute(latin1(frame)), { code: 'ERR_UPSTREAM_EXTRA_BYTES' });
  parser.expect(false);
  parser.finish();
});

test('keep-alive flags for HTTP/1.0, HTTP/1.1 and the Connection header', () => {
  const ka = (text: string) => {
    const r = whole(text);
    assert.equal(r.ok, true, `${JSON.stringify(text)}: ${r.error}`);
    assert.equal(r.completeKeepAlive, r.head!.keepAlive);
    return r.head!.keepAlive;
  };
  assert.equal(ka('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), true);
  assert.equal(ka('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'), false);
  assert.equal(ka('HTTP/1.1 200 OK\r\nconnection: Keep-Alive, CLOSE\r\nContent-Length: 0\r\n\r\n'), false);
  assert.equal(ka('HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n'), true);
  assert.equal(ka('HTTP/1.1 200 OK\r\nProxy-Connection: close\r\nContent-Length: 0\r\n\r\n'), false);
  assert.equal(ka('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n'), false);
  assert.equal(ka('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n'), true);
  assert.equal(ka('HTTP/1.0 200 OK\r\nConnection: Upgrade ,\tKEEP-ALIVE \r\nContent-Length: 0\r\n\r\n'), true);
  assert.equal(ka('HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n'), false);
  assert.equal(ka('HTTP/1.0 200 OK\r\nProxy-Connection: keep-alive\r\nContent-Length: 0\r\n\r\n'), false);
  // HTTP/1.0 with Transfer-Encoding: read, but the connection is not reused (RFC 9112 section 6.1).
  assert.equal(ka('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'), false);
  // A close-delimited body forces false.
  const r = whole('HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nbody');
  assert.equal(r.head!.keepAlive, false);
  assert.equal(r.completeKeepAlive, false);
});

test("the Keep-Alive field's timeout: a plain number of seconds, else no hint", () => {
  const cases: [string, number][] = [
    ['timeout=5', 5],
    ['timeout=5, max=1000', 5],
    ['max=1000, Timeout=30', 30],
    [' ,timeout=7 ', 7],
    ['TIMEOUT=0', 0],
    ['timeout=99999999999999999999', 86_400],
    ['max=5', -1],
    ['timeout=', -1],
    ['timeout= 5', -1],
    ['timeout=5s', -1],
    ['timeout="5"', -1],
    ['timeouts=5', -1],
    ['xtimeout=5, max=2', -1],
    ['', -1],
  ];
  for (const [value, seconds] of cases) assert.equal(keepAliveTimeout(latin1(value), 0, value.length), seconds, JSON.stringify(value));
  // On the parser, per response: a later response without the field has no hint.
  let hint = -2;
  const parser = new ResponseParser({ onHead: () => undefined, onBody: () => undefined, onComplete: () => (hint = parser.keepAliveTimeoutS) });
  const hintOf = (response: string): number => {
    parser.expect(false);
    read(parser, latin1(response));
    return hint;
  };
  assert.equal(hintOf('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n'), 5);
  assert.equal(hintOf('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), -1);
  // A second line without a timeout leaves the first one's.
  assert.equal(hintOf('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nKeep-Alive: max=100\r\nContent-Length: 0\r\n\r\n'), 5);
  // Not from trailers.
  assert.equal(hintOf('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nKeep-Alive: timeout=3\r\n\r\n'), -1);
});

test('a Transfer-Encoding other than one chunked is parsed, and flagged', () => {
  const flagged = (fields: string): boolean => {
    let seen: boolean | undefined;
    const parser = new ResponseParser({ onHead: () => (seen = parser.otherCodings), onBody: () => undefined, onComplete: () => undefined });
    parser.expect(false);
    read(parser, latin1(`HTTP/1.1 200 OK\r\n${fields}\r\n0\r\n\r\n`));
    assert.notEqual(seen, undefined, fields);
    return seen!;
  };
  assert.equal(flagged('Transfer-Encoding: chunked\r\n'), false);
  assert.equal(flagged('Transfer-Encoding: Chunked  \r\n'), false);
  assert.equal(flagged('Transfer-Encoding: gzip, chunked\r\n'), true);
  assert.equal(flagged('Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n'), true);
  assert.equal(flagged('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n'), true);
  assert.equal(flagged('Content-Length: 5\r\n'), false);
});

test('every error code', () => {
  const cases: [string, string | Buffer[], boolean?, number?][] = [
    ['ERR_UPSTREAM_BAD_STATUS_LINE', 'HTTP/2.0 200 OK\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_STATUS_LINE', 'HTTP/1.2 200 OK\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_STATUS_LINE', 'http/1.1 200 OK\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_STATUS_LINE', 'HTTP/1.1 20 OK\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_STATUS_LINE', 'HTTP/1.1 2000 OK\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_STATUS_LINE', 'HTTP/1.1 099 OK\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_STATUS_LINE', 'HTTP/1.1  200 OK\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_STATUS_LINE', 'HTTP/1.1 200\tOK\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_STATUS_LINE', 'HTTP/1.1 200 O\x00K\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_STATUS_LINE', '\r\nHTTP/1.1 200 OK\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_STATUS_LINE', 'HTTP/1.0 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_STATUS_LINE', [latin1('HTT'), latin1('X/1.1 200 OK\r\n\r\n')]], // rejected before the head ends
    ['ERR_UPSTREAM_BAD_HEADER', 'HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_HEADER', 'HTTP/1.1 200 OK\r\n X: a\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_HEADER', 'HTTP/1.1 200 OK\r\nX : a\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_HEADER', 'HTTP/1.1 200 OK\r\nX\t: a\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_HEADER', 'HTTP/1.1 200 OK\r\nBad Name: a\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_HEADER', 'HTTP/1.1 200 OK\r\n: a\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_HEADER', 'HTTP/1.1 200 OK\r\nNoColon\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_HEADER', 'HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_HEADER', 'HTTP/1.1 200 OK\r\nX: a\x7fb\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_HEADER', 'HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_HEADER', 'HTTP/1.1 200 OK\r\nX: a\nY: b\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_STATUS_LINE', 'HTTP/1.1 200 OK\nX: a\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_HEADER', 'HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_HEADER', 'HTTP/1.1 150 X\r\nContent-Length: 2\r\n\r\nab'],
    ['ERR_UPSTREAM_BAD_HEADER', 'HTTP/1.1 100 Continue\r\nTransfer-Encoding: chunked\r\n\r\nHTTP/1.1 200 OK\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_HEADER', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_HEADER', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Trailer: 5\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_CONTENT_LENGTH', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello'],
    ['ERR_UPSTREAM_BAD_CONTENT_LENGTH', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\nhello'],
    ['ERR_UPSTREAM_BAD_CONTENT_LENGTH', 'HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello'],
    ['ERR_UPSTREAM_BAD_CONTENT_LENGTH', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_CONTENT_LENGTH', 'HTTP/1.1 200 OK\r\nContent-Length: 1\t\r\n\r\nx'],
    ['ERR_UPSTREAM_BAD_CONTENT_LENGTH', 'HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx'],
    ['ERR_UPSTREAM_BAD_CONTENT_LENGTH', 'HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_CONTENT_LENGTH', 'HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_CONTENT_LENGTH', 'HTTP/1.1 200 OK\r\nContent-Length: 9007199254740992\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_TRANSFER_ENCODING', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_TRANSFER_ENCODING', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_TRANSFER_ENCODING', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_TRANSFER_ENCODING', 'HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_TRANSFER_ENCODING', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_CHUNK', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5g\r\nhello\r\n0\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_CHUNK', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_CHUNK', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_CHUNK', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_CHUNK', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_CHUNK', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5; a=b\r\nhello\r\n0\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_CHUNK', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a="b\r\nhello\r\n0\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_CHUNK', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20000000000000\r\nhello'],
    ['ERR_UPSTREAM_BAD_CHUNK', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nhello'],
    ['ERR_UPSTREAM_BAD_CHUNK', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_CHUNK', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n'],
    ['ERR_UPSTREAM_BAD_CHUNK', `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;${'x'.repeat(5000)}\r\nhello\r\n0\r\n\r\n`],
    ['ERR_UPSTREAM_HEADERS_TOO_LARGE', `HTTP/1.1 200 OK\r\nX: ${'x'.repeat(200)}\r\n\r\n`, false, 100],
    ['ERR_UPSTREAM_HEADERS_TOO_LARGE', [latin1('HTTP/1.1 200 OK\r\n'), latin1(`X: ${'x'.repeat(200)}`)], false, 100],
    ['ERR_UPSTREAM_HEADERS_TOO_LARGE', [latin1('HTTP/1.1 200 OK\r\nX: 1'), latin1(`${'x'.repeat(200)}\r\n\r\n`)], false, 100],
    ['ERR_UPSTREAM_HEADERS_TOO_LARGE', `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: ${'x'.repeat(200)}\r\n\r\n`, false, 100],
    ['ERR_UPSTREAM_TRUNCATED', 'HTTP/1.1 200 OK\r\nContent-Le'],
    ['ERR_UPSTREAM_TRUNCATED', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhell'],
    ['ERR_UPSTREAM_TRUNCATED', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'],
    ['ERR_UPSTREAM_TRUNCATED', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n'],
    ['ERR_UPSTREAM_TRUNCATED', 'HTTP/1.1 100 Continue\r\n\r\n'],
    ['ERR_UPSTREAM_TRUNCATED', 'H'],
    ['ERR_UPSTREAM_EXTRA_BYTES', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxy'],
    ['ERR_UPSTREAM_EXTRA_BYTES', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n\r\n'],
    ['ERR_UPSTREAM_EXTRA_BYTES', [latin1('HTTP/1.1 204 No Content\r\n\r\n'), latin1('HTTP/1.1 200 OK\r\n\r\n')]],
  ];
  for (const [code, input, noBody, max] of cases) {
    assert.equal(errorOf(input, noBody, max), code, JSON.stringify(input));
  }
  // Just under the limit is fine (the limit counts the whole head, blank line included).
  const head = `HTTP/1.1 200 OK\r\nX: ${'x'.repeat(50)}\r\nContent-Length: 0\r\n\r\n`;
  assert.equal(ours([latin1(head)], false, head.length).ok, true);
  assert.equal(errorOf(head, false, head.length - 1), 'ERR_UPSTREAM_HEADERS_TOO_LARGE');
  assert.equal(ours([...latin1(head)].map((b) => Buffer.from([b])), false, head.length).ok, true);
  assert.equal(errorOf([...latin1(head)].map((b) => Buffer.from([b])), false, head.length - 1), 'ERR_UPSTREAM_HEADERS_TOO_LARGE');
});

test('heads around and past the 2 KiB the parser decodes to find their end', () => {
  // The blank line before, across and after the window's edge, with a body in the same read.
  for (let size = 2030; size <= 2060; size++) {
    const filler = 'x'.repeat(size - 'HTTP/1.1 200 OK\r\nX: \r\nContent-Length: 5\r\n\r\n'.length);
    const head = `HTTP/1.1 200 OK\r\nX: ${filler}\r\nContent-Length: 5\r\n\r\n`;
    assert.equal(head.length, size);
    const out = whole(`${head}hello`);
    assert.equal(out.ok, true, `head of ${size} bytes: ${out.error}`);
    assert.deepEqual(out.head?.headers, ['X', filler, 'Content-Length', '5']);
    assert.equal(out.body.toString(), 'hello');
    // A control character past the window is still caught.
    assert.equal(errorOf(`HTTP/1.1 200 OK\r\nX: ${filler}\r\nY: a\x01b\r\n\r\n`), 'ERR_UPSTREAM_BAD_HEADER');
  }
  const long = `HTTP/1.1 200 OK\r\nX: ${'y'.repeat(10_000)}\r\nContent-Length: 2\r\n\r\nok`;
  assert.equal(whole(long).body.toString(), 'ok');
});

test('bytes before expect(), after a response, and after an error', () => {
  const parser = new ResponseParser({ onHead() {}, onBody() {}, onComplete() {} });
  assert.throws(() => parser.execute(latin1('HTTP/1.1 200 OK\r\n\r\n')), { code: 'ERR_UPSTREAM_EXTRA_BYTES' });
  // A connection that said close rejects anything after the response, even with expect() pending.
  const closing = new ResponseParser({ onHead() {}, onBody() {}, onComplete: () => closing.expect(false) });
  closing.expect(false);
  assert.throws(
    () => closing.execute(latin1('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n')),
    { code: 'ERR_UPSTREAM_EXTRA_BYTES' },
  );
  // After an error the parser keeps failing until expect(), then works again.
  parser.expect(false);
  assert.throws(() => parser.execute(latin1('HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n')), { code: 'ERR_UPSTREAM_BAD_HEADER' });
  assert.throws(() => parser.execute(latin1('more')), { code: 'ERR_UPSTREAM_BAD_HEADER' });
  parser.finish(); // not in progress any more
  parser.expect(false);
  assert.equal(parser.execute(latin1('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')), 38);
  assert.equal(parser.inProgress, false);
});

test('heads split at every byte position give the same result', () => {
  const samples: [string, boolean][] = [
    ['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Empty:\r\nContent-Length: 11\r\n\r\nhello world', false],
    ['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 201 Created\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '3;ext="a\\"b"\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer-A: 1\r\nTrailer-B: 2\r\n\r\n', false],
    ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', true],
    ['HTTP/1.1 404 \r\nVary: *\r\n\r\nclose-delimited body', false],
    ['HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n\x00\x00\x12\x04', false],
  ];
  for (const [text, noBody] of samples) {
    const bytes = latin1(text);
    const expected = ours([bytes], noBody);
    assert.equal(expected.ok, true, `${JSON.stringify(text)}: ${expected.error}`);
    for (let i = 0; i <= bytes.length; i++) {
      const r = ours([bytes.subarray(0, i), bytes.subarray(i)], noBody);
      assert.deepEqual(r, expected, `split at ${i}: ${JSON.stringify(text)}`);
    }
    const oneByOne = ours([...bytes].map((b) => Buffer.from([b])), noBody);
    assert.deepEqual(oneByOne, expected, `one byte at a time: ${JSON.stringify(text)}`);
  }
});

test('errors are found whatever the split (one byte at a time)', () => {
  for (const text of [
    'HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n',
    'HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r0\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: 1\r\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello',
  ]) {
    const bytes = latin1(text);
    const code = errorOf([bytes]);
    assert.ok(code && code !== 'ERR_UPSTREAM_TRUNCATED', `${JSON.stringify(text)}: ${code}`);
    assert.equal(errorOf([...bytes].map((b) => Buffer.from([b]))), code, JSON.stringify(text));
  }
});

test('pipelined responses on one connection with expect() between them', () => {
  const two = latin1(
    'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none' + 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n',
  );
  const seen: string[] = [];
  let pending = 1; // one more request is queued behind the first
  const parser = new ResponseParser({
    onHead: (status, _h, kind) => seen.push(`${status} ${kind}`),
    onBody: (b) => seen.push(b.toString()),
    onComplete: (ka) => {
      seen.push(`done ${ka}`);
      if (pending-- > 0) parser.expect(false); // the next response may already be in this buffer
    },
  });
  parser.expect(false);
  assert.equal(parser.execute(two), two.length);
  assert.deepEqual(seen, ['200 length', 'one', 'done true', '200 chunked', 'two', 'done true']);

  // The same bytes split anywhere, with expect() called between execute() calls when the first one ended exactly.
  for (let i = 0; i <= two.length; i++) {
    const got: string[] = [];
    let queued = 1;
    const p = new ResponseParser({
      onHead: (status) => got.push(`head ${status}`),
      onBody: (b) => got.push(b.toString()),
      onComplete: () => {
        got.push('done');
        if (queued-- > 0) p.expect(false);
      },
    });
    p.expect(false);
    p.execute(two.subarray(0, i));
    p.execute(two.subarray(i));
    p.finish();
    assert.equal(got.filter((e) => e === 'done').length, 2, `split at ${i}`);
    assert.equal(got.filter((e) => !e.startsWith('head') && e !== 'done').join(''), 'onetwo');
  }

  // A HEAD response followed by a normal one, expect() called between execute() calls.
  const bodies: string[] = [];
  const p2 = new ResponseParser({ onHead() {}, onBody: (b) => bodies.push(b.toString()), onComplete() {} });
  p2.expect(true);
  p2.execute(latin1('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n'));
  p2.expect(false);
  p2.execute(latin1('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody'));
  assert.deepEqual(bodies, ['body']);
});

// ---------------------------------------------------------------------------------------------------------------
// Differential fuzzing against llhttp, Node's own parser, driven in-process the way lib/_http_client.js does.

interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  finish(): undefined | Error;
  [callback: number]: unknown;
}
interface LlhttpParserClass {
  new (): LlhttpParser;
  RESPONSE: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kLenientNone: number;
}
const { HTTPParser } = createRequire(import.meta.url)('_http_common') as { HTTPParser: LlhttpParserClass };

interface LlMessage {
  status: number;
  reason: string;
  headers: string[];
  keepAlive: boolean;
  body: Buffer[];
  complete: boolean;
}

const llhttpParser = new HTTPParser();

/** Parses one response with llhttp as Node's http client would (strict, no lenient flags). */
function llhttp(pieces: Buffer[], noBody: boolean): Outcome & { interim: number } {
  const parser = llhttpParser;
  parser.initialize(HTTPParser.RESPONSE, {}, 1 << 20, HTTPParser.kLenientNone);
  const messages: LlMessage[] = [];
  let flushed: string[] = [];
  parser[HTTPParser.kOnHeaders] = (headers: string[]) => {
    flushed = flushed.concat(headers); // more than 32 fields arrive in batches
  };
  parser[HTTPParser.kOnHeadersComplete] = (
    _major: number, _minor: number, headers: string[] | undefined, _method: unknown, _url: unknown,
    status: number, reason: string, _upgrade: boolean, keepAlive: boolean,
  ) => {
    messages.push({ status, reason, headers: flushed.concat(headers ?? []), keepAlive, body: [], complete: false });
    flushed = [];
    return noBody ? 1 : 0; // 1: skip the body, as the client does for HEAD
  };
  parser[HTTPParser.kOnBody] = (chunk: Buffer) => messages.at(-1)!.body.push(Buffer.from(chunk));
  parser[HTTPParser.kOnMessageComplete] = () => {
    messages.at(-1)!.complete = true;
  };

  let error: string | undefined;
  let consumed: number | undefined;
  let offset = 0;
  const final = () => messages.find((m) => m.status >= 200 || m.status === 101);
  for (const piece of pieces) {
    const r = parser.execute(piece);
    if (r instanceof Error) {
      error = (r as Error & { code?: string }).code ?? 'error';
      break;
    }
    if (final()?.status === 101 && final()!.complete) {
      consumed = offset + r; // upgraded: the rest belongs to another protocol
      break;
    }
    offset += r;
  }
  if (error === undefined && consumed === undefined) {
    const r = parser.finish();
    if (r instanceof Error) error = (r as Error & { code?: string }).code ?? 'error';
  }
  const m = final();
  const index = m ? messages.indexOf(m) : -1;
  if (error === undefined && !m?.complete) error = 'never completed';
  if (error === undefined && index !== messages.length - 1) error = 'more than one final response';
  const out: Outcome & { interim: number } = { ok: error === undefined, error, body: Buffer.concat(m?.body ?? []), interim: index };
  if (m) {
    out.head = { status: m.status, reason: m.reason, headers: m.headers, bodyKind: 'none', contentLength: -1, keepAlive: m.keepAlive };
  }
  if (consumed !== undefined) out.consumed = consumed;
  return out;
}

/** mulberry32: a tiny seedable PRNG. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(readonly r: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.r() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.r() * items.length)]!;
  }
  str(alphabet: string, lo: number, hi: number): string {
    let s = '';
    for (let n = this.int(lo, hi); n > 0; n--) s += alphabet[Math.floor(this.r() * alphabet.length)];
    return s;
  }
  /** Mostly small, sometimes big. */
  size(max: number): number {
    return this.chance(0.7) ? this.int(0, 40) : this.int(0, max);
  }
  caseMix(s: string): string {
    return [...s].map((c) => (this.chance(0.5) ? c.toUpperCase() : c.toLowerCase())).join('');
  }
}

const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
let VALUE_CHARS = ' \t';
for (let c = 0x21; c <= 0xff; c++) if (c !== 0x7f) VALUE_CHARS += String.fromCharCode(c);
const SPECIAL = new Set(['content-length', 'transfer-encoding', 'connection', 'proxy-connection', 'upgrade']);

interface Case {
  pieces: Buffer[];
  bytes: Buffer;
  noBody: boolean;
  /** What a correct parser must report (well-formed cases only). */
  expected?: Outcome;
}

function fieldName(g: Gen): string {
  for (;;) {
    const name = g.chance(0.5) ? g.pick(['Content-Type', 'Date', 'Server', 'ETag', 'Vary', 'Set-Cookie', 'X-Request-Id', 'Cache-Control']) : g.str(TCHARS, 1, 20);
    if (!SPECIAL.has(name.toLowerCase())) return name;
  }
}

/** A value without leading/trailing whitespace (the parsers' view) and how it is sent (with random OWS). */
function fieldValue(g: Gen): [string, string] {
  let v = g.str(VALUE_CHARS, 0, 40);
  v = v.replace(/^[ \t]+|[ \t]+$/g, '');
  const ows = () => g.str(' \t', 0, 2);
  return [v, ows() + v + ows()];
}

function randomBody(g: Gen): Buffer {
  const n = g.size(3000);
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = g.int(0, 255);
  return b;
}

function split(g: Gen, bytes: Buffer): Buffer[] {
  const mode = g.r();
  if (mode < 0.35) return [bytes];
  if (mode < 0.45 && bytes.length < 1500) return [...bytes].map((b) => Buffer.from([b]));
  const cuts = new Set<number>();
  for (let n = g.int(1, 6); n > 0; n--) cuts.add(g.int(0, bytes.length));
  const sorted = [...cuts].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let at = 0;
  for (const c of sorted) {
    pieces.push(bytes.subarray(at, c));
    at = c;
  }
  pieces.push(bytes.subarray(at));
  return pieces;
}

function wellFormed(g: Gen): Case {
  const noBody = g.chance(0.15);
  const minor = g.chance(0.85) ? 1 : 0;
  let text = '';
  if (minor === 1 && g.chance(0.2)) {
    for (let n = g.int(1, 2); n > 0; n--) {
      text += `HTTP/1.1 ${g.pick([100, 102, 103, 199])} ${g.pick(['Continue', 'Processing', 'Early Hints', ''])}\r\n`;
      if (g.chance(0.5)) text += 'Link: </a.css>; rel=preload\r\n';
      text += '\r\n';
    }
  }
  const status = minor === 1 && g.chance(0.05) ? 101 : g.chance(0.7) ? g.pick([200, 200, 200, 201, 204, 206, 301, 302, 304, 400, 404, 500, 503]) : g.int(200, 999);
  const reason = g.pick(['OK', '', 'Not Found', 'Some  Reason\twith tab', 'caf\xe9 \xff', 'x'.repeat(g.int(1, 60))]);
  text += `HTTP/1.${minor} ${status}${reason === '' && g.chance(0.5) ? '' : ' '}${reason}\r\n`;

  const headers: string[] = [];
  const lines: string[] = [];
  const add = (name: string, value: string, raw = value) => {
    headers.push(name, value);
    lines.push(`${name}:${raw}`);
  };
  const count = g.chance(0.1) ? g.int(25, 45) : g.int(0, 8);
  for (let i = 0; i < count; i++) {
    const [v, raw] = fieldValue(g);
    add(fieldName(g), v, raw);
  }

  // Connection tokens (never both close and keep-alive: see the keep-alive rules in the parser).
  const conn = g.pick(['', '', 'close', 'keep-alive', 'Keep-Alive', 'CLOSE', 'upgrade', 'keep-alive, Upgrade', 'Upgrade,close', 'foo']);
  if (conn) add(g.caseMix('connection'), conn, ' ' + conn);
  const tokens = conn.toLowerCase().split(',').map((t) => t.trim());

  const bodyAllowed = !noBody && status >= 200 && status !== 204 && status !== 304;
  const body = status === 101 ? Buffer.alloc(0) : randomBody(g);
  let kind = g.pick(['length', 'chunked', 'close', 'te-close'] as const);
  if (status === 101 || (!bodyAllowed && g.chance(0.5))) kind = 'close'; // no framing header at all
  let payload: Buffer = Buffer.alloc(0);
  if (kind === 'length') {
    add(g.caseMix('content-length'), String(body.length), `${g.str(' \t', 0, 2)}${body.length}${g.str(' ', 0, 2)}`);
    payload = body;
  } else if (kind === 'chunked') {
    const te = g.pick(['chunked', 'Chunked', 'gzip, chunked', 'br,chunked', ' chunked  ']);
    add(g.caseMix('transfer-encoding'), te.trim(), te);
    const parts: Buffer[] = [];
    for (let at = 0; at < body.length; ) {
      const n = Math.min(body.length - at, g.int(1, 600));
      let hex = n.toString(16);
      if (g.chance(0.2)) hex = hex.toUpperCase();
      if (g.chance(0.1)) hex = '00' + hex;
      const ext = g.chance(0.15) ? g.pick([';a=b', ';flag', ';q="x \\" y"', ';a=1;b="";c']) : '';
      parts.push(latin1(`${hex}${ext}\r\n`), body.subarray(at, at + n), latin1('\r\n'));
      at += n;
    }
    parts.push(latin1(`0${g.chance(0.1) ? ';last' : ''}\r\n`));
    if (g.chance(0.2)) {
      for (let n = g.int(1, 3); n > 0; n--) parts.push(latin1(`${fieldName(g)}: ${fieldValue(g)[0]}\r\n`));
    }
    parts.push(latin1('\r\n'));
    payload = Buffer.concat(parts);
  } else if (kind === 'te-close') {
    const te = g.pick(['gzip', 'chunked, gzip', 'identity', 'x-custom']);
    add(g.caseMix('transfer-encoding'), te);
    payload = body;
  } else {
    payload = body;
  }
  // Shuffle the framing headers in among the others.
  for (let i = lines.length - 1; i > 0; i--) {
    const j = g.int(0, i);
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    [headers[2 * i], headers[2 * j]] = [headers[2 * j]!, headers[2 * i]!];
    [headers[2 * i + 1], headers[2 * j + 1]] = [headers[2 * j + 1]!, headers[2 * i + 1]!];
  }
  text += lines.map((l) => l + '\r\n').join('') + '\r\n';
  const head = latin1(text);

  let bodyKind: BodyKind;
  if (status === 101 || !bodyAllowed) bodyKind = 'none';
  else if (kind === 'length') bodyKind = 'length';
  else if (kind === 'chunked') bodyKind = 'chunked';
  else bodyKind = 'close';
  const keepAlive =
    status !== 101 && bodyKind !== 'close' && !tokens.includes('close') && (minor === 1 || (tokens.includes('keep-alive') && kind !== 'chunked' && kind !== 'te-close'));
  const expected: Outcome = {
    ok: true,
    head: { status, reason, headers, bodyKind, contentLength: bodyKind === 'length' ? body.length : -1, keepAlive },
    body: bodyKind === 'none' ? Buffer.alloc(0) : body,
  };
  let bytes: Buffer;
  if (status === 101) {
    expected.consumed = head.length;
    bytes = Buffer.concat([head, randomBody(g)]); // the upgraded protocol's bytes follow
  } else {
    bytes = Buffer.concat([head, bodyKind === 'none' ? Buffer.alloc(0) : payload]);
  }
  return { bytes, pieces: split(g, bytes), noBody, expected };
}

const NASTY_LINES = [
  'Content-Length: 5', 'Content-Length: 0', 'Content-Length: 00', 'Content-Length: -1', 'Content-Length: 1 2',
  'Content-Length: +3', 'Content-Length: 99999999999999999999', 'Content-Length: 9007199254740991', 'Content-Length:',
  'Content-Length: 5, 5', 'Content-Length: 0x5', 'Content-Length: \t7\t',
  'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip, chunked', 'Transfer-Encoding: chunked, gzip',
  'Transfer-Encoding: chunked\t', 'Transfer-Encoding:  CHUNKED ', 'Transfer-Encoding:', 'Transfer-Encoding: chunked;q=1',
  'Transfer-Encoding: ,chunked', 'Transfer-Encoding: identity',
  'Connection: close', 'Connection: keep-alive', 'Connection: keep-alive, close', 'Proxy-Connection: keep-alive',
  'Proxy-Connection: close', 'Connection: upgrade', 'Upgrade: websocket',
  ' folded', '\tfolded', 'Bad Name: x', 'Name : x', ':empty', 'X-Ctl: a\x01b', 'X: \x7f', 'X: a\x00', 'NoColon',
  'X:\xff\x80', 'X\x80: y', '0', '5', 'ffffffffffffffffff', '1g', ' 5', '5 ', '-1', '0x5', '5;', '5;a=', '5; a', '5;a="b',
  '5;a="\\"', '5;a="\\\x01"', '20000000000000', '1fffffffffffff', '0;x=y', '3\r\nabc', '', 'HTTP/1.1 200 OK',
];
const NASTY_STATUS = [
  'HTTP/1.1 20 OK', 'HTTP/1.1 2000 OK', 'HTTP/2.0 200 OK', 'HTTP/1.2 200 OK', 'http/1.1 200 OK', 'HTTP/1.1  200 OK',
  'HTTP/1.1 200\tOK', 'HTTP/1.1 099 X', 'HTTP/1.1 600 X', 'HTTP/1.1 000 X', 'HTTP/1.0 100 Continue', 'ICE/1.0 200 OK',
  'HTTP/1.1 200 OK\x00', 'HTTP/1.1 101 Switching Protocols', 'HTTP/1.1 204 No Content', 'HTTP/1.1 304 Not Modified',
  'HTTP/1.0 200 OK', 'HTTP/1.1 150 Odd', 'HTTP/1.1 200 \x7f', 'HTTP/1.1 200', 'HTTP/1.1 200 ', 'HTTP/0.9 200 OK',
];
const PREFIXES = [
  '\r\n', 'HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\n',
  'HTTP/1.1 150 X\r\nContent-Length: 2\r\n\r\nab', 'HTTP/1.0 100 Continue\r\n\r\n', 'HTTP/1.1 103 Hints\r\nTransfer-Encoding: chunked\r\n\r\n',
  'HTTP/1.1 102 P\r\nContent-Length: 0\r\n\r\n',
];
const SPECIAL_BYTES = [13, 10, 0, 32, 9, 0x3a, 0x2c, 0x3b, 0x22, 0x5c, 0x7f, 0xff, 0x80, 0x30, 0x35, 0x61, 0x46];

function lineStarts(bytes: Buffer): number[] {
  const starts = [0];
  for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) starts.push(i + 1);
  return starts;
}

function mutate(g: Gen, bytes: Buffer): Buffer {
  const at = () => g.int(0, bytes.length);
  switch (g.int(0, 9)) {
    case 0: {
      const i = Math.min(at(), bytes.length - 1);
      const b = Buffer.from(bytes);
      if (i >= 0) b[i] = g.chance(0.7) ? g.pick(SPECIAL_BYTES) : g.int(0, 255);
      return b;
    }
    case 1: {
      const i = at();
      const ins = g.pick([[13], [10], [0], [32], [9], [13, 10], [0x3a], [0x2c], [0x7f], [0xff], [0x78]]);
      return Buffer.concat([bytes.subarray(0, i), Buffer.from(ins), bytes.subarray(i)]);
    }
    case 2: {
      const i = at();
      return Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + g.int(1, 3))]);
    }
    case 3:
      return bytes.subarray(0, at());
    case 4: {
      // Duplicate a line (a duplicated Content-Length, chunk, trailer...).
      const starts = lineStarts(bytes);
      if (starts.length < 2) return bytes;
      const k = g.int(0, starts.length - 2);
      const line = bytes.subarray(starts[k]!, starts[k + 1]!);
      return Buffer.concat([bytes.subarray(0, starts[k + 1]!), line, bytes.subarray(starts[k + 1]!)]);
    }
    case 5:
    case 6: {
      // Insert a nasty line at the start of a line: a bad header, a conflicting framing header or a bad chunk size.
      const starts = lineStarts(bytes);
      const s = g.pick(starts.slice(1).concat(starts.slice(1, 2)));
      if (s === undefined) return bytes;
      return Buffer.concat([bytes.subarray(0, s), latin1(g.pick(NASTY_LINES) + (g.chance(0.9) ? '\r\n' : '\n')), bytes.subarray(s)]);
    }
    case 7: {
      const eol = bytes.indexOf('\r\n');
      return Buffer.concat([latin1(g.pick(NASTY_STATUS)), eol >= 0 ? bytes.subarray(eol) : latin1('\r\n\r\n')]);
    }
    case 8:
      return Buffer.concat([latin1(g.pick(PREFIXES)), bytes]);
    default:
      return Buffer.concat([bytes, latin1(g.pick(['x', '\r\n', 'HTTP/1.1 200 OK\r\n\r\n', '0\r\n\r\n']))]);
  }
}

function malformed(g: Gen): Case {
  const base = wellFormed(g);
  let bytes = base.bytes;
  for (let n = g.int(1, 3); n > 0; n--) bytes = mutate(g, bytes);
  return { bytes, pieces: split(g, bytes), noBody: g.chance(0.9) ? base.noBody : !base.noBody };
}

const show = (c: Case) => `noBody=${c.noBody} pieces=${c.pieces.map((p) => p.length).join(',')} bytes=${JSON.stringify(c.bytes.toString('latin1'))}`;
const brief = (o: Outcome) => JSON.stringify({ ...o, body: o.body.toString('latin1').slice(0, 200) });

/** Compares what both parsers saw of an accepted response; returns a description of the first difference. */
function difference(a: Outcome, b: Outcome, c: Case, exactKeepAlive: boolean): string | undefined {
  if (!b.ok) return `llhttp rejected it: ${b.error}`;
  const ha = a.head!;
  const hb = b.head!;
  if (ha.status !== hb.status) return 'status';
  if (ha.reason !== hb.reason) return 'reason';
  if (JSON.stringify(ha.headers) !== JSON.stringify(hb.headers)) return 'headers';
  if (!a.body.equals(b.body)) return 'body';
  if (a.consumed !== b.consumed) return 'bytes consumed before the upgrade';
  // llhttp decides keep-alive before it knows a HEAD response has no body, and says yes to HTTP/1.0 "keep-alive, close"
  // and to HTTP/1.0 with Transfer-Encoding (which RFC 9112 section 6.1 says to close): for those we only require that
  // we never say keep-alive when llhttp says close.
  const http10WithTE = c.bytes.subarray(0, 8).toString('latin1') === 'HTTP/1.0' && /\r\ntransfer-encoding:/i.test(c.bytes.toString('latin1'));
  if (!c.noBody && ha.status !== 101) {
    if (exactKeepAlive && !http10WithTE ? ha.keepAlive !== hb.keepAlive : ha.keepAlive && !hb.keepAlive) return 'keepAlive';
  }
  return undefined;
}

test('differential fuzz against llhttp', (t) => {
  const seed = Number(process.env.WEIGHBRIDGE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
  const g = new Gen(mulberry32(seed));
  const started = Date.now();
  const where = (kind: string, i: number) => `${kind} case #${i}, seed ${seed} (rerun with WEIGHBRIDGE_FUZZ_SEED=${seed})`;

  // (a) Well-formed responses: both parsers accept and agree exactly, and match what was generated.
  const WELL_FORMED = 2500;
  let wellAgreed = 0;
  for (let i = 0; i < WELL_FORMED; i++) {
    const c = wellFormed(g);
    const a = ours(c.pieces, c.noBody);
    const b = llhttp(c.pieces, c.noBody);
    assert.equal(a.ok, true, `${where('well-formed', i)}: we rejected it: ${a.error}\n${show(c)}`);
    const e = c.expected!;
    assert.deepEqual(a.head, e.head, `${where('well-formed', i)}: head differs from the generated one\n${show(c)}`);
    assert.ok(a.body.equals(e.body), `${where('well-formed', i)}: body differs from the generated one\n${show(c)}`);
    assert.equal(a.consumed, e.consumed, `${where('well-formed', i)}: consumed\n${show(c)}`);
    const diff = difference(a, b, c, true);
    assert.equal(diff, undefined, `${where('well-formed', i)}: differs from llhttp (${diff})\n${show(c)}\nours:   ${brief(a)}\nllhttp: ${brief(b)}`);
    wellAgreed++;
  }

  // (b) Mutated responses: whenever we accept, llhttp accepts with the same result.
  const MUTATED = 8000;
  const n = { bothAccepted: 0, bothRejected: 0, onlyLlhttpAccepted: 0 };
  for (let i = 0; i < MUTATED; i++) {
    const c = malformed(g);
    const a = ours(c.pieces, c.noBody);
    const b = llhttp(c.pieces, c.noBody);
    if (a.ok) {
      const diff = difference(a, b, c, false);
      assert.equal(diff, undefined, `${where('mutated', i)}: we accepted, llhttp differs (${diff})\n${show(c)}\nours:   ${brief(a)}\nllhttp: ${brief(b)}`);
      n.bothAccepted++;
    } else if (b.ok) n.onlyLlhttpAccepted++;
    else n.bothRejected++;
  }
  t.diagnostic(`seed ${seed}; ${Date.now() - started} ms`);
  t.diagnostic(`well-formed: ${wellAgreed}/${WELL_FORMED} accepted by both with identical results`);
  t.diagnostic(
    `mutated: ${MUTATED} cases; both accepted (identical) ${n.bothAccepted}, both rejected ${n.bothRejected}, ` +
      `only llhttp accepted (we are stricter) ${n.onlyLlhttpAccepted}, we accepted and llhttp did not or differed 0`,
  );
  // The mutations must exercise both sides, or the comparison proves little.
  assert.ok(n.bothAccepted > MUTATED / 20, `too few mutated cases accepted: ${JSON.stringify(n)}`);
  assert.ok(n.bothRejected > MUTATED / 4, `too few mutated cases rejected: ${JSON.stringify(n)}`);
});

test('the differential harness can fail: it notices a parser that drops a header', () => {
  const bytes = latin1('HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nContent-Length: 2\r\n\r\nok');
  const c: Case = { bytes, pieces: [bytes], noBody: false };
  const a = ours(c.pieces, false);
  const b = llhttp(c.pieces, false);
  assert.equal(difference(a, b, c, true), undefined);
  const broken: Outcome = { ...a, head: { ...a.head!, headers: a.head!.headers.slice(2) } };
  assert.equal(difference(broken, b, c, true), 'headers');
  assert.equal(difference({ ...a, body: latin1('ko') }, b, c, true), 'body');
  const rejected = llhttp([latin1('HTTP/1.1 200 OK\r\nBad Header: 1\r\n\r\n')], false);
  assert.match(difference(a, rejected, c, true) ?? '', /llhttp rejected/);
});
