import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { seededRandom } from '../../src/balancing/random.js';
import { peerCacheStatus } from '../../src/ingress/peer-cache.js';
import { sendRaw } from '../helpers/raw-http.js';
import { fetchRaw, startHttpServer, startProxy } from '../helpers/servers.js';

const require = createRequire(import.meta.url);
const addon = require('../../../native/peer-cache/build/Release/peer_cache.node') as {
  checkFraming(reads: Uint8Array[]): [accepted: number, opaque: 0 | 1, ends: number[], status: number];
  rechunkReads(reads: Uint8Array[]): [handedOver: Buffer, status: number];
};

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');
/** framing.c over one connection's reads: bytes accepted, whether it stopped reading, where requests ended. */
const check = (...reads: string[]): { accepted: number; opaque: boolean; ends: number[] } => {
  const [accepted, opaque, ends] = addon.checkFraming(reads.map(bytes));
  return { accepted, opaque: opaque === 1, ends };
};
/** Asserts that `stream` is refused at the first byte of `marker`, plus `skip` bytes, with `status`. */
const refusedAt = (stream: string, marker: string, skip = 0, status = 400): void => {
  const at = stream.indexOf(marker);
  assert.ok(at >= 0, marker);
  const [accepted, , , refusal] = addon.checkFraming([bytes(stream)]);
  assert.deepEqual([accepted, refusal], [at + skip, status], JSON.stringify(stream));
};

const chunked = 'POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n';

test('framing: what HAProxy and NGINX answer 400 (and uWS misreads) is refused at its first byte', () => {
  // uWS reads ';' as the hex digit 11: `0;a=b` would be a chunk of 0xBADB bytes, the next request its data.
  refusedAt(`${chunked}0;a=b\r\n\r\nGET /victim HTTP/1.1\r\n\r\n`, ';');
  refusedAt(`${chunked}3 ;a\r\nabc\r\n0\r\n\r\n`, ' ;');
  refusedAt(`${chunked}1g\r\n${'x'.repeat(32)}\r\n0\r\n\r\n`, '1g', 1);
  refusedAt(`${chunked} 3\r\nabc\r\n0\r\n\r\n`, ' 3');
  refusedAt(`${chunked}3\r\nabcXY0\r\n\r\n`, 'XY');
  refusedAt(`${chunked}3\rX\nabc\r\n0\r\n\r\n`, 'X\n');
  refusedAt(`${chunked}3\nabc\r\n0\r\n\r\n`, '\nabc');
  refusedAt(`${chunked}${'0'.repeat(16)}\r\n\r\n`, '0\r\n\r\n');
  refusedAt(`${chunked}\r\n0\r\n\r\n`, '\r\n0\r\n\r\n');
  // Trailers: uWS drops two bytes after the last chunk and reads the rest as the next request.
  refusedAt(`${chunked}0\r\nX-Sum: 1\r\n\r\n`, 'X-Sum');
  // A field line's fault shows at its LF; CL beside TE at the head's last LF.
  refusedAt('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabcGET /smug HTTP/1.1\r\n\r\n', '\n\r\n');
  refusedAt('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', '\n0\r\n');
  // Codings beside chunked, which the ingress answers 400 and closes on: the request is read as
  // uWS reads it (chunked), so that the 400 goes out, and nothing may follow it.
  for (const codings of ['gzip, chunked', 'chunked, gzip', 'gzip', 'chunked\r\nTransfer-Encoding: chunked']) {
    const last = `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ${codings}\r\n\r\n1\r\nx\r\n0\r\n\r\n`;
    assert.deepEqual(check(last), { accepted: last.length, opaque: false, ends: [last.length] });
    refusedAt(`${last}GET / HTTP/1.1\r\n\r\n`, 'GET');
    refusedAt(`${last}\r\n`, '0\r\n\r\n\r\n', 5);
  }
  refusedAt('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\na', '\n\r\n');
  refusedAt('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\na', '\n\r\n');
  // A tab after the digits: RFC 9110 would take it, llhttp does not (found by the end-to-end fuzz below).
  refusedAt('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\t\r\n\r\na', '\n\r\n');
  refusedAt('GET / HTTP/1.1\r\nContent-Length : 3\r\n\r\nabc', ' : 3');
  // A coding longer than the check keeps (24 bytes) cannot be chunked alone.
  refusedAt('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, deflate, br, chunked\r\n\r\n', ', chunked', 24 - 'gzip, deflate, br'.length);
  refusedAt('GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n', ' two');
  refusedAt('GET / HTTP/1.1\nHost: a\n\n', '\nHost');
  refusedAt('GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n', 'b\r\n\r\n');
  // Refused once, refused for good: a later read is not looked at.
  assert.equal(check(`${chunked}0;x\r\n`, 'GET / HTTP/1.1\r\n\r\n').accepted, chunked.length + 1);
});

test('framing: sound requests pass whole, however the reads divide them; TLS is left alone, a handshake is read as a request', () => {
  const stream =
    '\r\nGET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n' +
    'POST /sized HTTP/1.1\r\nhost: a\r\ncontent-length:  3 \r\nContent-Length: 3\r\n\r\nabc' +
    `POST /chunked HTTP/1.1\r\nHOST: a\r\nTRANSFER-ENCODING: Chunked\r\n\r\n3\r\nabc\r\n0A\r\n${'z'.repeat(10)}\r\n000\r\n\r\n` +
    'GET /last?q=\xe9%20 HTTP/1.1\r\nUpgrade: h2c\r\nX-DEL: a\x7fb\r\nHost:\r\n\r\n';
  const whole = check(stream);
  assert.deepEqual(whole, { accepted: stream.length, opaque: false, ends: [stream.indexOf('POST /sized'), stream.indexOf('POST /chunked'), stream.indexOf('GET /last'), stream.length] });
  for (let cut = 1; cut < stream.length; cut++) assert.deepEqual(check(stream.slice(0, cut), stream.slice(cut)), whole, `cut at ${cut}`);

  // Until the ingress upgrades the connection (asCallback stops the check), what follows a
  // handshake is read as requests: a refused handshake leaves an HTTP/1.1 connection.
  const handshake = 'GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
  const next = 'GET /next HTTP/1.1\r\nHost: a\r\n\r\n';
  assert.deepEqual(check(handshake, `${next}${chunked}1;x`), { accepted: handshake.length + next.length + chunked.length + 1, opaque: false, ends: [handshake.length, handshake.length + next.length] });
  assert.deepEqual(check('\x16\x03\x01\x02\x00\x01', 'anything'), { accepted: 14, opaque: true, ends: [] });
});

test('framing: heads uWS would leave unanswered are refused at their first byte, with the status that says why', () => {
  const get = (requestLine: string, fields = 'Host: a\r\n'): string => `${requestLine}\r\n${fields}\r\n`;
  for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']) {
    const stream = get(`${method} / HTTP/1.1`);
    assert.deepEqual(check(stream), { accepted: stream.length, opaque: false, ends: [stream.length] });
  }
  // Methods uWS closes the connection on, silently: 501 at the space that ends them.
  for (const method of ['PROPFIND', 'MKCOL', 'PURGE', 'get', 'Get', 'M-SEARCH', 'X'.repeat(40)]) refusedAt(get(`${method} / HTTP/1.1`), ' /', 0, 501);
  refusedAt(get('G@T / HTTP/1.1'), '@');
  refusedAt(get(' GET / HTTP/1.1'), ' GET');
  // Targets uWS leaves unanswered until its idle timeout.
  refusedAt(get('GET http://a/x HTTP/1.1'), 'http:');
  refusedAt(get('OPTIONS * HTTP/1.1'), '*');
  refusedAt(get('CONNECT a:443 HTTP/1.1'), 'a:443');
  refusedAt(get('GET  / HTTP/1.1'), ' / HTTP');
  refusedAt(get('GET /a\x01b HTTP/1.1'), '\x01');
  refusedAt(get('GET /a\x7f HTTP/1.1'), '\x7f');
  refusedAt(get('GET /a\tb HTTP/1.1'), '\t');
  refusedAt('GET /\r\nHost: a\r\n\r\n', '\r\nHost');
  // Versions: 505 for another HTTP version, 400 for what is none.
  for (const version of ['HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.2']) refusedAt(get(`GET / ${version}`), '\r\nHost', 0, 505);
  for (const version of ['http/1.1', 'HTTP/1.1 ', 'HTTP/1.10', 'HTTP/11', '']) refusedAt(get(`GET / ${version}`), '\r\nHost');
  // One longer than the 24 bytes the check keeps is refused where it outgrows them.
  refusedAt(get(`GET / HTTP/1.1${' '.repeat(30)}`), ' '.repeat(30), 24 - 'HTTP/1.1'.length);
  refusedAt(get('GET /a b HTTP/1.1'), '\r\nHost');
  // Field names: RFC 9110 allows more than letters, digits and '-'; uWS answers no other.
  for (const name of ['X_Id', 'X.Id', 'X~Id', 'X\xe9', 'X\x00', 'X"']) refusedAt(get('GET / HTTP/1.1', `Host: a\r\n${name}: 1\r\n`), name.slice(1));
  const fields = (n: number): string => Array.from({ length: n - 1 }, (_, i) => `X-F${i}: v\r\n`).join('');
  const most = get('GET / HTTP/1.1', `Host: a\r\n${fields(48)}`);
  assert.equal(check(most).accepted, most.length);
  refusedAt(get('GET / HTTP/1.1', `Host: a\r\n${fields(49)}`), 'X-F47', 0, 431);
  // A head with no Host field, refused at its last LF (RFC 9112 section 3.2).
  refusedAt(get('GET / HTTP/1.1', 'X-Host: a\r\n'), '\n\r\n', 2);
  refusedAt(get('POST / HTTP/1.1', 'Content-Length: 0\r\n'), '\n\r\n', 2);
  // Each request of a connection is read so.
  const first = get('GET / HTTP/1.1');
  refusedAt(`${first}${get('PROPFIND / HTTP/1.1')}`, 'FIND', 4, 501);
  refusedAt(`${first}${get('GET /next HTTP/1.1', '')}`, 'next HTTP/1.1\r\n\r\n', 'next HTTP/1.1\r\n\r'.length);
});

// Differential: llhttp, Node's own parser, in strict mode, as Node's HTTP server drives it.
interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  [callback: number]: unknown;
}
const { HTTPParser } = require('_http_common') as {
  HTTPParser: { new (): LlhttpParser; REQUEST: number; kOnHeadersComplete: number; kOnBody: number; kOnMessageComplete: number; kLenientNone: number };
};

/** Where llhttp's requests end, fed a byte at a time, and how far it read before an error (the whole stream if none). */
function llhttp(stream: Buffer): { read: number; ends: number[] } {
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {}, 1 << 16, HTTPParser.kLenientNone);
  const ends: number[] = [];
  let offset = 0;
  parser[HTTPParser.kOnMessageComplete] = () => ends.push(offset + 1);
  for (; offset < stream.length; offset++) {
    if (parser.execute(stream.subarray(offset, offset + 1)) instanceof Error) break;
  }
  return { read: offset, ends };
}

/** The requests llhttp reads from a stream: target, lowercased field names and values, body; null at an error. */
function llhttpMessages(stream: Buffer): { target: string; fields: string[]; body: string }[] | null {
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {}, 1 << 16, HTTPParser.kLenientNone);
  const requests: { target: string; fields: string[]; body: string }[] = [];
  let body = '';
  parser[HTTPParser.kOnHeadersComplete] = (_major: number, _minor: number, headers: string[], _method: number, url: string) => {
    requests.push({ target: url, fields: headers.map((h, i) => (i % 2 === 0 ? h.toLowerCase() : h)), body: '' });
    body = '';
  };
  parser[HTTPParser.kOnBody] = (chunk: Buffer) => (body += chunk.toString('latin1'));
  parser[HTTPParser.kOnMessageComplete] = () => (requests.at(-1)!.body = body);
  return parser.execute(stream) instanceof Error ? null : requests;
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];
const NAMES = ['Host', 'X-Id', 'Accept', 'Content-Length', 'Transfer-Encoding', 'Connection', 'Cookie'];

/**
 * A random run of pipelined requests that HTTP/1.1 allows, each sized, chunked or without a body;
 * their targets start with `tag`.
 */
function validStream(random: () => number, tag = '', most = 3): string {
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
  let stream = '';
  for (let n = 1 + Math.floor(random() * most); n > 0; n--) {
    let head = `${pick(METHODS)} /${tag}${Math.floor(random() * 1000)} HTTP/1.1\r\nHost: h\r\n`;
    for (let f = Math.floor(random() * 3); f > 0; f--) head += `X-${Math.floor(random() * 99)}: ${pick(['a', ' b ', 'c d', '\te'])}\r\n`;
    const kind = random();
    if (kind < 0.35) {
      const body = 'b'.repeat(Math.floor(random() * 20));
      stream += `${head}Content-Length: ${body.length}\r\n\r\n${body}`;
    } else if (kind < 0.7) {
      let body = '';
      for (let c = Math.floor(random() * 3); c > 0; c--) {
        const size = 1 + Math.floor(random() * 20);
        const hex = size.toString(16);
        body += `${random() < 0.5 ? hex.toUpperCase() : `0${hex}`}\r\n${'c'.repeat(size)}\r\n`;
      }
      stream += `${head}Transfer-Encoding: chunked\r\n\r\n${body}0\r\n\r\n`;
    } else {
      stream += `${head}\r\n`;
    }
  }
  return stream;
}

const NOISE = ['\r', '\n', ' ', '\t', ';', ':', ',', '0', '1', 'a', 'G', 'x', '\x00', '\r\n', 'Content-Length: 2\r\n', 'Content-Length: 0000000002\r\n', 'Transfer-Encoding: chunked\r\n', ' chunked'];

/** The stream with a few bytes inserted, removed or replaced at random places, or a field line or two added. */
function mutate(stream: string, random: () => number): string {
  let s = stream;
  for (let k = 1 + Math.floor(random() * 2); k > 0; k--) {
    const at = Math.floor(random() * (s.length + 1));
    const op = random();
    const noise = NOISE[Math.floor(random() * NOISE.length)]!;
    if (op < 0.4) s = s.slice(0, at) + noise + s.slice(at);
    else if (op < 0.7) s = s.slice(0, at) + s.slice(at + 1);
    else s = s.slice(0, at) + noise + s.slice(at + 1);
  }
  return s;
}

test('framing: differential against llhttp on random and mutated request streams: up to where either stops, both end requests at the same bytes', () => {
  const random = seededRandom(20261129);
  let agreedWhole = 0;
  let mutatedAccepted = 0;
  for (let i = 0; i < 3000; i++) {
    const valid = validStream(random);
    const ours = check(valid);
    // No false refusals: every stream the grammar allows passes whole, with llhttp's request ends.
    assert.equal(ours.accepted, valid.length, JSON.stringify(valid));
    assert.deepEqual(ours.ends, llhttp(bytes(valid)).ends, JSON.stringify(valid));

    const mutated = mutate(valid, random);
    const mine = check(mutated);
    const theirs = llhttp(bytes(mutated));
    if (mine.opaque) continue;
    // Where both read on, their request ends agree; a stream one of them refuses is not a
    // disagreement about where a request ends, only about whether to go on.
    const both = Math.min(mine.accepted, theirs.read);
    assert.deepEqual(mine.ends.filter((e) => e <= both), theirs.ends.filter((e) => e <= both), JSON.stringify(mutated));
    if (mine.accepted === mutated.length) {
      mutatedAccepted++;
      if (theirs.read === mutated.length) agreedWhole++;
    }
  }
  // The mutations left enough streams whole for the comparison to mean something.
  assert.ok(mutatedAccepted > 300 && agreedWhole > 300, `${mutatedAccepted} mutated streams passed, ${agreedWhole} of them by llhttp too`);
});

/** The requests llhttp reads whole from a stream, as `METHOD target` and the body, up to its first error. */
function llhttpRequests(stream: Buffer): string[] {
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {}, 1 << 16, HTTPParser.kLenientNone);
  const requests: string[] = [];
  let current = '';
  parser[HTTPParser.kOnHeadersComplete] = (_major: number, _minor: number, _headers: string[], method: number, url: string) => {
    current = `${HTTP_METHODS[method]} ${url}\n`;
  };
  parser[HTTPParser.kOnBody] = (chunk: Buffer) => (current += chunk.toString('latin1'));
  parser[HTTPParser.kOnMessageComplete] = () => requests.push(current);
  parser.execute(stream);
  return requests;
}
const { methods: HTTP_METHODS } = require('_http_common') as { methods: string[] };

test('framing: a Content-Length of more than the 9 digits uWS reads reaches uWS as a chunked body, however the reads divide the stream', () => {
  const random = seededRandom(11);
  const rechunk = (...reads: string[]): { stream: Buffer; status: number } => {
    const [stream, status] = addon.rechunkReads(reads.map(bytes));
    return { stream, status };
  };
  const sized = (target: string, length: string, body: string): string => `POST ${target} HTTP/1.1\r\nHost: a\r\nContent-Length: ${length}\r\nX-After: 1\r\n\r\n${body}`;
  // What llhttp reads of the original, with the long Content-Length as chunked framing instead.
  const expected = (original: string): { target: string; fields: string[]; body: string }[] =>
    llhttpMessages(bytes(original))!.map((r) => {
      const at = r.fields.indexOf('content-length');
      const fields = [...r.fields];
      if (at >= 0 && fields[at + 1]!.length > 9) fields.splice(at, 2, 'transfer-encoding', 'chunked');
      return { ...r, fields };
    });
  let edited = 0;
  for (let round = 0; round < 300; round++) {
    // Sound requests around one or two with a long Content-Length (10 to 18 digits, leading zeros
    // keeping the bodies small here; a 1 GiB upload is the CLI test's).
    const long = (): string => {
      const body = 'z'.repeat(Math.floor(random() * 40));
      return sized(`/long${round}`, String(body.length).padStart(10 + Math.floor(random() * 9), '0'), body);
    };
    const original = `${validStream(random, 'a', 2)}${long()}${random() < 0.5 ? long() : ''}${validStream(random, 'b', 2)}`;
    // Split where the first Content-Length line is whole in one read: anywhere else in the stream.
    const lineStart = original.search(/Content-Length: \d{10}/);
    const lineEnd = original.indexOf('\n', lineStart) + 1;
    const cuts = [...new Set(Array.from({ length: Math.floor(random() * 5) }, () => Math.floor(random() * original.length)))]
      .filter((c) => c <= original.lastIndexOf('\n', lineStart) || c >= lineEnd)
      .sort((a, b) => a - b);
    const reads = [0, ...cuts, original.length].slice(1).map((end, i, ends) => original.slice(i === 0 ? 0 : ends[i - 1], end)).filter((r) => r.length > 0);
    const { stream, status } = rechunk(...reads);
    if (status !== 0) {
      // Only a second long line split from its LF's read, out of reach, may be refused: 413.
      assert.equal(status, 413, JSON.stringify(reads));
      continue;
    }
    assert.deepEqual(llhttpMessages(stream), expected(original), JSON.stringify(reads));
    assert.ok(!/content-length: \d{10}/i.test(stream.toString('latin1')));
    edited++;
  }
  assert.ok(edited > 250, `${edited} of 300 streams re-framed`);
  // A long Content-Length whose line began in an earlier read is refused, 413, as is a second one.
  const request = sized('/x', '0000000003', 'abc');
  const at = request.indexOf('Length:');
  assert.deepEqual(rechunk(request.slice(0, at), request.slice(at)).status, 413);
  assert.deepEqual(rechunk(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0000000003\r\nContent-Length: 0000000003\r\n\r\nabc`).status, 413);
  // Two such requests in one read are re-framed; three are more edits than a read takes.
  assert.equal(rechunk(`${sized('/1', '0000000001', 'a')}${sized('/2', '0000000001', 'b')}`).status, 0);
  assert.equal(rechunk(`${sized('/1', '0000000001', 'a')}${sized('/2', '0000000001', 'b')}${sized('/3', '0000000001', 'c')}`).status, 413);
  // Nine digits pass as they are; so does an empty body's long length, with its last chunk.
  assert.equal(rechunk(sized('/nine', '000000003', 'abc')).stream.toString('latin1'), sized('/nine', '000000003', 'abc'));
  assert.equal(rechunk(sized('/empty', '0000000000', '')).stream.toString('latin1'), 'POST /empty HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:chunked\r\nX-After: 1\r\n\r\n0\r\n\r\n');
});

test('proxy: mutated request streams sent through the ingress: every request a worker gets is one llhttp reads whole from the stream, body and all', async () => {
  const received: string[] = [];
  const worker = await startHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push(`${req.method} ${req.url}\n${Buffer.concat(chunks).toString('latin1')}`);
      res.end('ok');
    });
  });
  const proxy = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: worker.url }] } });
  try {
    const random = seededRandom(29112026);
    const letters = (n: number): string => Array.from({ length: n }, () => String.fromCharCode(97 + Math.floor(random() * 26))).join('');
    const expected = new Map<string, number>();
    let readable = 0;
    for (let batch = 0; batch < 30; batch++) {
      // Mostly one request a stream: uWS closes a connection on a request that comes while another
      // is answered, so later ones in a stream rarely get through (which keeps them from smuggling too).
      const streams = Array.from({ length: 10 }, () => mutate(validStream(random, `${letters(8)}-`, random() < 0.7 ? 1 : 3), random));
      for (const stream of streams) {
        // uWS ends a chunked body at its last chunk's size line, `0\r\n`, and the framing check
        // looks at the CRLF after it when it comes: a stream cut just before that CRLF has its
        // last request forwarded, where llhttp still waits for it.
        const whole = new Set([...llhttpRequests(bytes(stream)), ...llhttpRequests(bytes(`${stream}\n`)), ...llhttpRequests(bytes(`${stream}\r\n`))]);
        for (const request of whole) expected.set(request, (expected.get(request) ?? 0) + 1);
        readable += whole.size;
      }
      await Promise.all(streams.map((stream) => sendRaw(proxy.ingressPort, stream, 150)));
    }
    // Whatever the ingress refused or cut, nothing reached the worker that a strict reader would
    // not have read as that same request: no request formed from another's body, no body grown or cut.
    for (const request of received) {
      const left = expected.get(request) ?? 0;
      assert.ok(left > 0, `the worker got a request llhttp does not read from any stream sent: ${JSON.stringify(request)}`);
      expected.set(request, left - 1);
    }
    // And enough got through for that to mean something (the rest: uWS's own refusals, of unknown
    // methods and of requests that come while another is answered, and the ingress's 400s).
    assert.ok(received.length * 3 >= readable, `${received.length} requests reached the worker of ${readable} that llhttp reads whole`);
  } finally {
    await proxy.stop();
    await worker.close();
  }
});

/** A worker that keeps every byte it is sent and answers each head with an empty 200. */
async function startRecordingWorker(): Promise<{ url: string; received: () => string; close(): Promise<void> }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      for (let at = chunk.indexOf('\r\n\r\n'); at >= 0; at = chunk.indexOf('\r\n\r\n', at + 4)) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    });
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    received: () => Buffer.concat(chunks).toString('latin1'),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Writes `first`, then `second` 300 ms later on the same connection; what came back and whether it closed. */
function sendInTwo(port: number, first: string, second: string): Promise<{ response: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let response = '';
    socket.on('data', (c: Buffer) => (response += c.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ response, closed: true }));
    socket.on('connect', () => {
      socket.write(bytes(first));
      setTimeout(() => socket.write(bytes(second), () => undefined), 300);
      setTimeout(() => {
        socket.destroy();
        resolve({ response, closed: false });
      }, 1500);
    });
  });
}

test('proxy: a chunk extension cannot smuggle the next request on the connection into a body; the connection closes and the ingress keeps serving', async () => {
  const worker = await startRecordingWorker();
  const proxy = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: worker.url }] } });
  try {
    const refusedBefore = peerCacheStatus().framingRefused;
    // Refused in a connection's first read, before uWS saw any of it: a 400 that says why, then the close.
    const refusal = (why: string): RegExp => new RegExp(`^HTTP/1\\.1 400 Bad Request\r\n[^]*connection: close\r\n[^]*\r\n\r\n${why}`);
    const attack = await sendInTwo(proxy.ingressPort, `${chunked}0;a=b\r\n\r\n`, 'GET /victim HTTP/1.1\r\nHost: a\r\nCookie: session=SECRET\r\n\r\n');
    assert.equal(attack.closed, true);
    assert.match(attack.response, refusal('a chunk size line that is not hex digits and CRLF alone'));
    // Duplicate lengths with a request behind the body: nothing of it is forwarded.
    const smuggle = await sendRaw(proxy.ingressPort, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabcGET /smug HTTP/1.1\r\nHost: a\r\n\r\n', 500);
    assert.equal(smuggle.closed, true);
    assert.match(smuggle.response, refusal('an invalid Content-Length, or two that differ'));
    // Trailers, which uWS would read as the start of the next request; here after a sound request
    // on the same connection, whose answer may still be on its way: closed without a word.
    const trailers = await sendInTwo(proxy.ingressPort, 'GET /first HTTP/1.1\r\nHost: a\r\n\r\n', `${chunked}1\r\nx\r\n0\r\nXXGET /trailer HTTP/1.1\r\nHost: a\r\n\r\n`);
    assert.equal(trailers.closed, true);
    assert.equal(trailers.response.match(/^HTTP\/1\.1 /gm)?.length, 1, trailers.response);
    assert.match(trailers.response, /^HTTP\/1\.1 200 OK/);
    const seen = worker.received();
    for (const path of ['/victim', 'SECRET', '/smug', '/trailer']) assert.ok(!seen.includes(path), `${path} reached the worker: ${JSON.stringify(seen)}`);
    assert.equal(peerCacheStatus().framingRefused - refusedBefore, 3);

    // A sound chunked request, sent in pieces, and the next request on the same connection pass.
    const sound = await sendInTwo(proxy.ingressPort, `${chunked}5\r\nhel`, 'lo\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(sound.response.match(/HTTP\/1\.1 200 OK/g)?.length, 2, sound.response);
    assert.ok(worker.received().includes('GET /next HTTP/1.1'));
    assert.equal(peerCacheStatus().framingRefused - refusedBefore, 3);
    assert.equal((await fetchRaw(`${proxy.url}/after`)).status, 200);
  } finally {
    await proxy.stop();
    await worker.close();
  }
});

test('proxy: heads uWS would leave unanswered get their status at once, before any of them reaches the worker; the ingress keeps serving', async () => {
  const worker = await startRecordingWorker();
  const proxy = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: worker.url }] } });
  try {
    const refusedBefore = peerCacheStatus().framingRefused;
    const cases: [request: string, status: string, why: string][] = [
      ['PROPFIND /dav HTTP/1.1\r\nHost: a\r\n\r\n', '501 Not Implemented', 'a method other than GET'],
      ['GET /old HTTP/1.0\r\n\r\n', '505 HTTP Version Not Supported', 'an HTTP version other than HTTP/1.1'],
      ['GET http://a/absolute HTTP/1.1\r\nHost: a\r\n\r\n', '400 Bad Request', 'a request target that is not a path'],
      ['GET /underscore HTTP/1.1\r\nHost: a\r\nX_Id: 1\r\n\r\n', '400 Bad Request', 'a field name with characters other than letters, digits and -'],
      [`GET /many HTTP/1.1\r\nHost: a\r\n${'X-F: v\r\n'.repeat(60)}\r\n`, '431 Request Header Fields Too Large', 'more than 48 header fields'],
      ['GET /hostless HTTP/1.1\r\nAccept: */*\r\n\r\n', '400 Bad Request', 'no Host field'],
    ];
    // Without the check, uWS would close on the unknown method and the missing Host silently and
    // leave the rest unanswered for its idle timeout (about 12 s): no response in the 2 s here.
    const answers = await Promise.all(cases.map(([request]) => sendRaw(proxy.ingressPort, request, 2000)));
    answers.forEach((answer, i) => {
      const [, status, why] = cases[i]!;
      assert.equal(answer.closed, true, status);
      assert.match(answer.response, new RegExp(`^HTTP/1\\.1 ${status}\r\n[^]*connection: close\r\n[^]*\r\n\r\n${why}`), JSON.stringify(answer.response));
    });
    // The head split over two reads: still no head reached the ingress, so the answer goes out.
    const split = await sendInTwo(proxy.ingressPort, 'GET /split HTTP/1.1\r\nHo', 'st: a\r\nX.Id: 1\r\n\r\n');
    assert.equal(split.closed, true);
    assert.match(split.response, /^HTTP\/1\.1 400 Bad Request\r\n/);
    // After a sound request, whose answer may still be on its way: closed without a word.
    const later = await sendInTwo(proxy.ingressPort, 'GET /sound HTTP/1.1\r\nHost: a\r\n\r\n', 'MKCOL /later HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(later.closed, true);
    assert.equal(later.response.match(/^HTTP\/1\.1 /gm)?.length, 1, later.response);
    assert.match(later.response, /^HTTP\/1\.1 200 OK/);
    const seen = worker.received();
    for (const path of ['/dav', '/old', '/absolute', '/underscore', '/many', '/hostless', '/split', '/later']) assert.ok(!seen.includes(path), `${path} reached the worker`);
    assert.ok(seen.includes('GET /sound HTTP/1.1'));
    assert.equal(peerCacheStatus().framingRefused - refusedBefore, cases.length + 2);
    assert.equal((await fetchRaw(`${proxy.url}/after`)).status, 200);
  } finally {
    await proxy.stop();
    await worker.close();
  }
});

test('proxy: a request whose Content-Length has more than 9 digits, which uWS alone drops without a word, reaches the worker chunked', async () => {
  // Answers with what it read of the request: its framing fields and body.
  const worker = await startHttpServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('latin1'))).on('end', () => res.end(`${req.headers['transfer-encoding']} ${req.headers['content-length']} ${body}`));
  });
  const proxy = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: worker.url }] } });
  try {
    // 10 digits, as a body of 10^9 bytes or more has (the CLI test sends 1 GiB); the head and
    // the body come in separate reads here, as a large upload's do.
    const answer = await sendInTwo(proxy.ingressPort, 'POST /long HTTP/1.1\r\nHost: a\r\nContent-Length: 0000000005\r\n\r\n', 'hello');
    assert.match(answer.response, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nchunked undefined hello$/);
    assert.equal(answer.closed, false);
  } finally {
    await proxy.stop();
    await worker.close();
  }
});

test('proxy: once the ingress upgrades a connection to a WebSocket, its frames pass unchecked', async () => {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  server.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  await new Promise((resolve) => server.once('listening', resolve));
  const proxy = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }] } });
  try {
    const refusedBefore = peerCacheStatus().framingRefused;
    const client = new WebSocket(`ws://127.0.0.1:${proxy.ingressPort}/`);
    await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
    // Frames that would be nothing like a request: binary, with CR, LF and ';' in them.
    const payloads = [Buffer.from('0;a=b\r\n\r\nGET / HTTP/1.1\r\n'), Buffer.from([0x16, 0x0d, 0x0a, 0x00, 0xff])];
    for (const payload of payloads) {
      const echoed = new Promise<Buffer>((resolve) => client.once('message', (data) => resolve(data as Buffer)));
      client.send(payload);
      assert.deepEqual(await echoed, payload);
    }
    client.close();
    assert.equal(peerCacheStatus().framingRefused, refusedBefore);
  } finally {
    await proxy.stop();
    server.close();
  }
});
