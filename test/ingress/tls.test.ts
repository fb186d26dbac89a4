import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash, createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Agent, request } from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import { resolveConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { stickyToken } from '../../src/ingress/sticky.js';
import { checkKeyPair, checkTlsFiles } from '../../src/ingress/tls-files.js';
import { runCli, startCli } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { sendRaw } from '../helpers/raw-http.js';
import { fetchRaw, startExampleWorkers, startHttpServer, startProxy, stopProcesses, type ExampleWorker } from '../helpers/servers.js';
import { tempDir } from '../helpers/temp-dir.js';
import { selfSignedCert } from '../helpers/tls.js';

let workers: ExampleWorker[];
/** Two certificates for localhost; the proxy serves A's paths, and a rotation copies B over them. */
let certA: { cert: string; key: string };
let certB: { cert: string; key: string };

before(async () => {
  workers = await startExampleWorkers(2);
  certA = selfSignedCert();
  certB = selfSignedCert();
});

after(async () => {
  await stopProcesses(workers ?? []);
});

const fingerprint = (certFile: string): string => new X509Certificate(readFileSync(certFile)).fingerprint256;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface TlsReply {
  status: number;
  body: Buffer;
  /** The certificate the server presented. */
  fingerprint: string;
  /** Names and values as received, alternating (repeated fields stay apart). */
  rawHeaders: string[];
}

/** One HTTPS request that verifies the server against `ca` (the self-signed certificate is its own CA). */
function fetchTls(url: string, ca: string, options: { method?: string; body?: Buffer; agent?: Agent | false; servername?: string; headers?: Record<string, string> } = {}): Promise<TlsReply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, ca: readFileSync(ca), servername: options.servername ?? 'localhost', agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      const presented = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), fingerprint: presented, rawHeaders: res.rawHeaders }));
      res.on('error', reject);
    });
    req.on('error', reject);
    // A broken build must fail here, not hang the suite (an SNI name without routes hangs in uWS).
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.end(options.body);
  });
}

/** A copy of a certificate and key at paths of the test's own, so a rotation can overwrite them. */
function ownCopy(pair: { cert: string; key: string }): { cert: string; key: string } {
  const dir = tempDir('tls-own');
  const own = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  copyFileSync(pair.cert, own.cert);
  copyFileSync(pair.key, own.key);
  return own;
}

const staticDriver = () => ({ kind: 'static' as const, upstreams: workers.map((w) => ({ url: w.url, id: w.id })) });

test('HTTPS ends at the ingress: workers get plain HTTP with X-Forwarded-Proto https, a body round-trips, wss echoes, and the plain listener still serves', async () => {
  const proxy = await startProxy({ driver: staticDriver(), tls: { port: 0, certFile: certA.cert, keyFile: certA.key } });
  try {
    const tlsPort = proxy.dataPlane!.ingressTlsPort!;
    assert.notEqual(tlsPort, proxy.ingressPort);
    const https = `https://127.0.0.1:${tlsPort}`;

    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const reply = await fetchTls(`${https}/`, certA.cert);
      assert.equal(reply.status, 200);
      assert.equal(reply.fingerprint, fingerprint(certA.cert));
      seen.add(reply.body.toString().trim());
    }
    assert.deepEqual([...seen].sort(), ['w1', 'w2']);

    const viaTls = JSON.parse((await fetchTls(`${https}/headers`, certA.cert)).body.toString()) as { headers: Record<string, string> };
    assert.equal(viaTls.headers['x-forwarded-proto'], 'https');
    assert.equal(viaTls.headers['x-forwarded-for'], '127.0.0.1');
    const viaPlain = JSON.parse((await fetchRaw(`${proxy.url}/headers`)).body.toString()) as { headers: Record<string, string> };
    assert.equal(viaPlain.headers['x-forwarded-proto'], 'http');

    // Below uSockets' 512 KiB read buffer: see the README's known limits for echoes of larger bodies.
    const body = randomBytes(256 * 1024 + 7);
    const echoed = await fetchTls(`${https}/echo`, certA.cert, { method: 'POST', body });
    assert.equal(echoed.status, 200);
    assert.equal(sha256(echoed.body), sha256(body));

    const ws = new WebSocket(`wss://127.0.0.1:${tlsPort}/chat`, { ca: readFileSync(certA.cert) });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const message = randomBytes(100_000);
    const reply = new Promise<Buffer>((resolve) => ws.once('message', (data) => resolve(data as Buffer)));
    ws.send(message);
    assert.equal(sha256(await reply), sha256(message));
    ws.close();

    // A client that does not trust the certificate is refused by its own TLS check, as it should be.
    await assert.rejects(fetchTls(`${https}/`, certB.cert), /self[- ]signed|unable to verify|certificate/i);
  } finally {
    await proxy.stop();
  }
});

test('large bodies cross TLS both ways: a 16 MiB upload, and a 16 MiB chunked download to a client that stops reading for a while', async () => {
  const block = randomBytes(64 * 1024);
  const blocks = 256;
  const upstream = await startHttpServer((req, res) => {
    if (req.method === 'POST') {
      const hash = createHash('sha256');
      req.on('data', (c: Buffer) => hash.update(c));
      req.on('end', () => res.end(hash.digest('hex')));
      return;
    }
    // Chunked (no length), written as fast as the proxy takes it.
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    let sent = 0;
    const more = (): void => {
      while (sent < blocks) {
        sent++;
        if (!res.write(block)) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  });
  const proxy = await startProxy({ driver: { kind: 'static', upstreams: [{ url: upstream.url }] }, tls: { port: 0, certFile: certA.cert, keyFile: certA.key } });
  try {
    const https = `https://127.0.0.1:${proxy.dataPlane!.ingressTlsPort!}`;
    const upload = randomBytes(16 * 1024 * 1024 + 5);
    const uploaded = await fetchTls(`${https}/hash`, certA.cert, { method: 'POST', body: upload });
    assert.equal(uploaded.status, 200);
    assert.equal(uploaded.body.toString(), sha256(upload));

    const expected = createHash('sha256');
    for (let i = 0; i < blocks; i++) expected.update(block);
    const downloaded = await new Promise<Buffer>((resolve, reject) => {
      request(`${https}/download`, { ca: readFileSync(certA.cert), servername: 'localhost', agent: false }, (res) => {
        assert.equal(res.headers['transfer-encoding'], 'chunked');
        const chunks: Buffer[] = [];
        res.pause();
        setTimeout(() => res.resume(), 500);
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
    assert.equal(downloaded.length, blocks * block.length);
    assert.equal(sha256(downloaded), expected.digest('hex'));
  } finally {
    await proxy.stop();
    await upstream.close();
  }
});

test('plain HTTP or garbage on the TLS port closes that connection only; the ingress keeps serving HTTPS', async () => {
  const proxy = await startProxy({ driver: staticDriver(), tls: { port: 0, certFile: certA.cert, keyFile: certA.key } });
  try {
    const tlsPort = proxy.dataPlane!.ingressTlsPort!;
    for (const bytes of [Buffer.from('GET / HTTP/1.1\r\nhost: x\r\n\r\n'), randomBytes(4096)]) {
      const answer = await new Promise<Buffer>((resolve, reject) => {
        const socket = connect(tlsPort, '127.0.0.1', () => socket.write(bytes));
        const chunks: Buffer[] = [];
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.on('close', () => resolve(Buffer.concat(chunks)));
        socket.on('error', () => resolve(Buffer.concat(chunks)));
        socket.setTimeout(10_000, () => reject(new Error('the TLS listener kept a garbage connection open')));
      });
      // Whatever came back (a TLS alert at most) is no HTTP response from a worker.
      assert.ok(!answer.toString('latin1').includes('HTTP/1.1 200'), 'garbage on the TLS port reached a worker');
    }
    assert.equal((await fetchTls(`https://127.0.0.1:${tlsPort}/`, certA.cert)).status, 200);
    assert.equal((await fetchRaw(`${proxy.url}/`)).status, 200);
  } finally {
    await proxy.stop();
  }
});

test('a reload reads the certificate again: new connections get the new one, an open connection keeps working, and bad files change nothing', async () => {
  const own = ownCopy(certA);
  const config = { driver: staticDriver(), tls: { port: 0, certFile: own.cert, keyFile: own.key } };
  const log: string[] = [];
  const proxy = await startProxy(config, log);
  const swaps = () => log.filter((l) => l === 'TLS: the new certificates serve new connections').length;
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const https = `https://127.0.0.1:${proxy.dataPlane!.ingressTlsPort!}`;
    assert.equal((await fetchTls(`${https}/`, certA.cert, { agent: keepAlive })).fingerprint, fingerprint(certA.cert));

    // A key that does not belong to the certificate: the reload fails naming the field, and no
    // setting of the same reload applies.
    copyFileSync(certB.key, own.key);
    const reloaded = resolveConfig({ host: '127.0.0.1', port: 0, threads: 2, roles: ['ingress'], slowStartMs: 0, ...config, limits: { maxBodyBytes: 10 }, admin: { port: 0 } });
    await assert.rejects(proxy.reload(reloaded), (err: Error) => err instanceof ConfigError && /tls\.keyFile: .* does not go with tls\.certFile/.test(err.message));
    assert.equal((await fetchTls(`${https}/echo`, certA.cert, { method: 'POST', body: Buffer.alloc(100) })).status, 200, 'the failed reload applied its body limit');
    for (let i = 0; i < 6; i++) assert.equal((await fetchTls(`${https}/`, certA.cert)).fingerprint, fingerprint(certA.cert));

    // The renewed pair, under the same paths.
    copyFileSync(certB.cert, own.cert);
    assert.deepEqual(await proxy.reload(reloaded), []);
    assert.equal(proxy.dataPlane!.status().ingress.tlsPort, proxy.dataPlane!.ingressTlsPort, 'the reload moved the TLS port');
    assert.equal(swaps(), 1);
    // A reload with the same files builds nothing new.
    await proxy.reload(reloaded);
    assert.equal(swaps(), 1);
    // New connections (to either thread) get B; the kept-alive one still answers, with A's session.
    for (let i = 0; i < 10; i++) assert.equal((await fetchTls(`${https}/`, certB.cert)).fingerprint, fingerprint(certB.cert));
    const old = await fetchTls(`${https}/`, certA.cert, { agent: keepAlive });
    assert.equal(old.status, 200);
    assert.equal(old.fingerprint, fingerprint(certA.cert));
    assert.equal((await fetchTls(`${https}/echo`, certB.cert, { method: 'POST', body: Buffer.alloc(100) })).status, 413, 'the reload did not apply its body limit');
  } finally {
    keepAlive.destroy();
    await proxy.stop();
  }
});

test('with redirectHttp the plain listener sends every request to HTTPS with a 308, and no worker sees it', async () => {
  const accessLog = join(tempDir('tls-access'), 'access.log');
  const proxy = await startProxy({ driver: staticDriver(), accessLog, access: { deny: ['127.0.0.2'] }, tls: { port: 0, certFile: certA.cert, keyFile: certA.key, redirectHttp: true } });
  try {
    const tlsPort = proxy.dataPlane!.ingressTlsPort!;
    // A denied client is refused, not redirected.
    const denied = await new Promise<number>((resolve, reject) =>
      httpRequest(`${proxy.url}/`, { localAddress: '127.0.0.2', agent: false }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', reject).end(),
    );
    assert.equal(denied, 403);
    const completed = async (): Promise<number> =>
      (JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/workers`)).body.toString()) as { completed: number }[]).reduce((a, w) => a + w.completed, 0);
    const before = await completed();
    const get = await fetchRaw(`${proxy.url}/a/b?c=1`, { agent: false });
    assert.equal(get.status, 308);
    assert.equal(get.headers.location, `https://127.0.0.1:${tlsPort}/a/b?c=1`);
    // A body is not read, so the connection closes after the answer (as a raw client sees it).
    const post = await new Promise<string>((resolve, reject) => {
      const socket = connect(proxy.ingressPort, '127.0.0.1', () => socket.write('POST /echo HTTP/1.1\r\nhost: example.com:8080\r\ncontent-length: 5\r\n\r\nhello'));
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(post, /^HTTP\/1\.1 308 /);
    assert.match(post, new RegExp(`\r\nlocation: https://example\\.com:${tlsPort}/echo\r\n`, 'i'));
    assert.match(post, /\r\nconnection: close\r\n/i);
    assert.equal((await fetchRaw(`${proxy.url}/`, { agent: false, headers: { host: 'evil.com/x' } })).status, 400);
    // The target goes into the location byte for byte; a head the proxy would refuse is refused.
    const utf8 = await sendRaw(proxy.ingressPort, Buffer.from('GET /caf\xc3\xa9 HTTP/1.1\r\nhost: example.com\r\n\r\n', 'latin1'), 300);
    assert.match(utf8.response, /^HTTP\/1\.1 308 /);
    assert.match(utf8.response, new RegExp(`\r\nlocation: https://example\\.com:${tlsPort}/caf\xc3\xa9\r\n`, 'i'));
    assert.match((await sendRaw(proxy.ingressPort, 'GET / HTTP/1.1\r\nhost: example.com\r\nx-bad: a\x7fb\r\n\r\n', 300)).response, /^HTTP\/1\.1 400 /);
    // Following the redirect works, and only that request reaches a worker. The counts are
    // sampled once a second, so the check waits for the followed one and then one more sample.
    const followed = await fetchTls(get.headers.location, certA.cert);
    assert.equal(followed.status, 200);
    await eventually('the followed request counted', async () => ((await completed()) > before ? true : undefined));
    await new Promise((r) => setTimeout(r, 1_200));
    assert.equal(await completed(), before + 1, 'a redirected request reached a worker');
    // The access log tells the two listeners apart.
    const lines = await eventually('the access log lines', async () => {
      const text = existsSync(accessLog) ? readFileSync(accessLog, 'utf8') : '';
      const parsed = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { scheme: string; status: number; outcome: string; target: string });
      return parsed.length >= 7 ? parsed : undefined;
    });
    // Two threads write their own lines, so the order across them is not kept.
    assert.deepEqual(lines.map((l) => `${l.scheme} ${l.status} ${l.outcome}`).sort(), ['http 308 redirected', 'http 308 redirected', 'http 308 redirected', 'http 400 rejected', 'http 400 rejected', 'http 403 rejected', 'https 200 ok']);
  } finally {
    await proxy.stop();
  }
});

test('HSTS: every HTTPS response carries the configured Strict-Transport-Security, in place of a worker\'s own; plain HTTP carries none', async () => {
  const upstream = await startHttpServer((req, res) => {
    if (req.url === '/own') res.setHeader('Strict-Transport-Security', 'max-age=5');
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  const sts = (reply: { rawHeaders: string[] }): string[] => {
    const out: string[] = [];
    for (let i = 0; i < reply.rawHeaders.length; i += 2) if (reply.rawHeaders[i]!.toLowerCase() === 'strict-transport-security') out.push(reply.rawHeaders[i + 1]!);
    return out;
  };
  const proxy = await startProxy({
    driver: { kind: 'static', upstreams: [{ url: upstream.url, id: 'sts' }] },
    limits: { maxBodyBytes: 10 },
    tls: { port: 0, certFile: certA.cert, keyFile: certA.key, hsts: { maxAgeS: 600, includeSubDomains: true } },
  });
  try {
    const https = `https://127.0.0.1:${proxy.dataPlane!.ingressTlsPort!}`;
    const ours = 'max-age=600; includeSubDomains';
    const proxied = await fetchTls(`${https}/`, certA.cert);
    assert.equal(proxied.status, 200);
    assert.deepEqual(sts(proxied), [ours]);
    // The worker's own field is replaced, not sent beside ours.
    assert.deepEqual(sts(await fetchTls(`${https}/own`, certA.cert)), [ours]);
    // The ingress's own answers over HTTPS carry it too.
    const refused = await fetchTls(`${https}/`, certA.cert, { method: 'POST', body: Buffer.alloc(100) });
    assert.equal(refused.status, 413);
    assert.deepEqual(sts(refused), [ours]);
    // Over plain HTTP nothing is added (RFC 6797 section 7.2) and a worker's field passes as it is.
    const plain = await fetchRaw(`${proxy.url}/`);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['strict-transport-security'], undefined);
    assert.equal((await fetchRaw(`${proxy.url}/own`)).headers['strict-transport-security'], 'max-age=5');
  } finally {
    await proxy.stop();
    await upstream.close();
  }
  // preload is what the browsers' list accepts only with includeSubDomains and a year or more.
  assert.throws(() => resolveConfig({ tls: { certFile: certA.cert, keyFile: certA.key, hsts: { preload: true } } }), (err: unknown) => err instanceof ConfigError && /tls\.hsts/.test(err.message));
  assert.equal(resolveConfig({ tls: { certFile: certA.cert, keyFile: certA.key, hsts: {} } }).tls?.hsts?.maxAgeS, 31_536_000);
});

test('sticky sessions over HTTPS: the cookie is Secure there, not on the plain listener, and HTTPS requests follow it', async () => {
  const proxy = await startProxy({ driver: staticDriver(), stickySessions: {}, tls: { port: 0, certFile: certA.cert, keyFile: certA.key } });
  const cookieOf = (rawHeaders: string[]): string | undefined => {
    for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === 'set-cookie' && rawHeaders[i + 1]!.startsWith('wb_worker=')) return rawHeaders[i + 1];
    return undefined;
  };
  try {
    const https = `https://127.0.0.1:${proxy.dataPlane!.ingressTlsPort!}`;
    // Both schemes in turn, so a line cached for one is never served for the other.
    for (let i = 0; i < 4; i++) {
      const plain = await fetchRaw(`${proxy.url}/`, { agent: false });
      const token = stickyToken(plain.body.toString().trim());
      assert.equal(plain.headers['set-cookie']?.find((c) => c.startsWith('wb_worker=')), `wb_worker=${token}; Path=/; HttpOnly; SameSite=Lax`);
      const secure = await fetchTls(`${https}/`, certA.cert);
      assert.equal(cookieOf(secure.rawHeaders), `wb_worker=${stickyToken(secure.body.toString().trim())}; Path=/; HttpOnly; SameSite=Lax; Secure`);
    }
    for (const id of ['w1', 'w2']) {
      for (let i = 0; i < 5; i++) {
        const reply = await fetchTls(`${https}/`, certA.cert, { headers: { cookie: `wb_worker=${stickyToken(id)}` } });
        assert.equal(reply.body.toString(), `${id}\n`);
        assert.equal(cookieOf(reply.rawHeaders), undefined);
      }
    }
  } finally {
    await proxy.stop();
  }
});

test('SNI: a client asking for a configured name gets its certificate (wildcards too) and is proxied; others get the default; a reload adds a name', async () => {
  const forA = selfSignedCert('DNS:a.test');
  const forB = selfSignedCert('DNS:*.b.test');
  const forC = selfSignedCert('DNS:c.test');
  // A name in capitals is matched as clients send it, in lower case.
  const tls = { port: 0, certFile: certA.cert, keyFile: certA.key, certificates: [{ serverName: 'A.test', certFile: forA.cert, keyFile: forA.key }, { serverName: '*.b.test', certFile: forB.cert, keyFile: forB.key }] };
  const proxy = await startProxy({ driver: staticDriver(), tls });
  try {
    const https = `https://127.0.0.1:${proxy.dataPlane!.ingressTlsPort!}`;
    for (let i = 0; i < 4; i++) {
      // New connections each time, so both threads answer under every name.
      const a = await fetchTls(`${https}/headers`, forA.cert, { servername: 'a.test' });
      assert.equal(a.fingerprint, fingerprint(forA.cert));
      assert.equal((JSON.parse(a.body.toString()) as { headers: Record<string, string> }).headers['x-forwarded-proto'], 'https');
      const b = await fetchTls(`${https}/`, forB.cert, { servername: 'x.b.test' });
      assert.equal(b.fingerprint, fingerprint(forB.cert));
      assert.match(b.body.toString(), /^w[12]\n$/);
      assert.equal((await fetchTls(`${https}/`, certA.cert, { servername: 'localhost' })).fingerprint, fingerprint(certA.cert));
      assert.equal((await fetchTls(`${https}/`, certA.cert, { servername: 'c.test' }).catch((err: Error) => err.message)).toString().includes("Hostname/IP does not match certificate's altnames"), true, 'an unknown name got a certificate other than the default');
    }
    const reloaded = resolveConfig({ host: '127.0.0.1', port: 0, threads: 2, roles: ['ingress'], slowStartMs: 0, driver: staticDriver(), admin: { port: 0 }, tls: { ...tls, certificates: [...tls.certificates, { serverName: 'c.test', certFile: forC.cert, keyFile: forC.key }] } });
    assert.deepEqual(await proxy.reload(reloaded), []);
    for (let i = 0; i < 4; i++) {
      const c = await fetchTls(`${https}/`, forC.cert, { servername: 'c.test' });
      assert.equal(c.fingerprint, fingerprint(forC.cert));
      assert.equal(c.status, 200);
    }
  } finally {
    await proxy.stop();
  }
});

test('TLS files are checked before anything starts, each fault naming its field', async () => {
  const dir = tempDir('tls-bad');
  const garbage = join(dir, 'garbage.pem');
  writeFileSync(garbage, 'not a certificate\n');
  const encrypted = join(dir, 'encrypted.pem');
  writeFileSync(encrypted, createPrivateKey(readFileSync(certA.key)).export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'open sesame' }));

  assert.throws(() => checkKeyPair({ certFile: join(dir, 'missing.pem'), keyFile: certA.key }, 'tls'), /^ConfigError: tls\.certFile: cannot read .*missing\.pem/);
  assert.throws(() => checkKeyPair({ certFile: certA.cert, keyFile: join(dir, 'missing.pem') }, 'tls'), /^ConfigError: tls\.keyFile: cannot read/);
  assert.throws(() => checkKeyPair({ certFile: garbage, keyFile: certA.key }, 'tls'), /^ConfigError: tls\.certFile: .*garbage\.pem holds no PEM certificate/);
  assert.throws(() => checkKeyPair({ certFile: certA.cert, keyFile: garbage }, 'tls'), /^ConfigError: tls\.keyFile: .*holds no usable PEM private key/);
  assert.throws(() => checkKeyPair({ certFile: certA.cert, keyFile: certB.key }, 'tls'), /^ConfigError: tls\.keyFile: .* does not go with tls\.certFile/);
  assert.throws(() => checkKeyPair({ certFile: certA.cert, keyFile: encrypted }, 'tls'), /an encrypted key needs tls\.passphrase/);
  assert.throws(() => checkKeyPair({ certFile: certA.cert, keyFile: encrypted, passphrase: 'wrong' }, 'tls'), /tls\.passphrase is wrong/);
  assert.equal(checkKeyPair({ certFile: certA.cert, keyFile: encrypted, passphrase: 'open sesame' }, 'tls').fingerprint256, fingerprint(certA.cert));
  // An SNI pair is checked the same way, under its own field, and must cover its name.
  const sni = (serverName: string, pair: { cert: string; key: string }) => ({ certFile: certA.cert, keyFile: certA.key, certificates: [{ serverName, certFile: pair.cert, keyFile: pair.key }] });
  assert.throws(() => checkTlsFiles({ ...sni('a.test', certA), certificates: [{ serverName: 'a.test', certFile: certA.cert, keyFile: certB.key }] }), /^ConfigError: tls\.certificates\[0\]\.keyFile: .* does not go with/);
  assert.throws(() => checkTlsFiles(sni('a.test', certA)), /^ConfigError: tls\.certificates\[0\]\.certFile: .* does not cover a\.test/);
  assert.throws(() => checkTlsFiles(sni('*.localhost', certA)), /does not cover \*\.localhost/);
  checkTlsFiles(sni('localhost', certA));

  // An encrypted key with its passphrase serves (uWS decrypts it itself).
  const proxy = await startProxy({ driver: staticDriver(), tls: { port: 0, certFile: certA.cert, keyFile: encrypted, passphrase: 'open sesame' } });
  try {
    assert.equal((await fetchTls(`https://127.0.0.1:${proxy.dataPlane!.ingressTlsPort!}/`, certA.cert)).status, 200);
  } finally {
    await proxy.stop();
  }
  await assert.rejects(startProxy({ driver: staticDriver(), tls: { port: 0, certFile: certA.cert, keyFile: certB.key } }), /tls\.keyFile/);
  // From the command line: one error naming the field, exit code 2, as for a bad flag.
  const cli = await runCli(['--port', '0', '--admin-port', '0', '--upstreams', workers[0]!.url, '--tls-cert', join(dir, 'missing.pem'), '--tls-key', certA.key]);
  assert.equal(cli.code, 2);
  assert.match(cli.stderr, /^weighbridge: tls\.certFile: cannot read .*missing\.pem/);
  assert.throws(() => resolveConfig({ port: 8443, tls: { certFile: certA.cert, keyFile: certA.key } }), /tls\.port: must differ from port/);
  assert.throws(() => resolveConfig({ tls: { certFile: certA.cert } }), /tls\.keyFile/);
  const pair = { certFile: certA.cert, keyFile: certA.key };
  assert.throws(() => resolveConfig({ tls: { ...pair, certificates: [{ serverName: 'a.test', ...pair }, { serverName: 'A.test', ...pair }] } }), /tls\.certificates: a serverName is listed twice/);
  assert.throws(() => resolveConfig({ tls: { ...pair, certificates: [{ serverName: 'a b', ...pair }] } }), /tls\.certificates\.0\.serverName: must be a host name/);
  assert.throws(() => resolveConfig({ tls: { ...pair, certificates: [{ serverName: 'a.b.c.d.e.f.g.h.i.j.k', ...pair }] } }), /tls\.certificates\.0\.serverName: must have at most 10 labels/);
});

test('the command line serves HTTPS with --tls-cert, --tls-key and --tls-port, and SIGHUP rotates the certificate', async () => {
  const own = ownCopy(certA);
  const cli = await startCli(['--port', '0', '--admin-port', '0', '--threads', '2', '--roles', 'ingress', '--upstreams', workers[0]!.url, '--tls-cert', own.cert, '--tls-key', own.key, '--tls-port', '0']);
  try {
    assert.ok(cli.tlsPort > 0, 'the summary line names no https:// listener');
    const https = `https://127.0.0.1:${cli.tlsPort}`;
    assert.equal((await fetchTls(`${https}/`, certA.cert)).body.toString().trim(), 'w1');
    copyFileSync(certB.cert, own.cert);
    copyFileSync(certB.key, own.key);
    cli.child.kill('SIGHUP');
    await eventually('the reload', async () => (cli.stderr().includes('TLS certificate read again') ? true : undefined));
    for (let i = 0; i < 6; i++) assert.equal((await fetchTls(`${https}/`, certB.cert)).fingerprint, fingerprint(certB.cert));
  } finally {
    cli.child.kill('SIGTERM');
    await cli.exited;
  }
});
