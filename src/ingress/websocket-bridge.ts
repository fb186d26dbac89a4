import type { HttpRequest, HttpResponse, TemplatedApp, us_socket_context_t, WebSocket as ClientSocket } from 'uWebSockets.js';
import { isHopByHop } from '../http/hop-by-hop.js';
import { Outcome, type OutcomeValue, type StatsTable } from '../shared/stats-table.js';
import { parseSubprotocols, UpstreamWebSocket } from '../upstream/websocket-client.js';
import { clientAddress } from './client-address.js';
import { runAsUwsCallback } from './peer-cache.js';
import { readHead, requestLine } from './raw-head.js';
import { ACCESS_OUTCOME, type AccessOutcome } from './access-log.js';
import { ALL_FULL, pickWorker, type ExchangeContext } from './proxy-exchange.js';
import { requestIdFor, type Scheme } from './request-head.js';
import { sendError } from './responses.js';
import { forbiddenMessage } from './client-access.js';
import { rateLimitedMessage } from './rate-limiter.js';
import { cookieValue } from './sticky.js';
import { forwarding, isForwardingField, trustedPeer } from './trusted-proxies.js';

/**
 * WebSocket pass-through: the upgrade is accepted from the client only once the worker accepted
 * its own upgrade, so a refusing worker's answer (a 401, a 404) reaches the client as an HTTP
 * response (relayRefusal).
 * Messages are relayed frame for frame; a slow reader on either side pauses the other, as far as
 * uWS.js 20.30 allows (see the message handler). Close codes pass through; a connection that ended
 * without a close frame ends the other one too. A worker that answers no ping within idleMs is
 * ended, as HAProxy's `timeout tunnel` or NGINX's `proxy_read_timeout` end a silent tunnel, but
 * without cutting a quiet worker that is alive.
 *
 * A WebSocket holds one admission under limits.maxConcurrentRequests from its upgrade request
 * until it closes, as a tunnel holds a connection slot under HAProxy's maxconn: otherwise open
 * sockets would escape the limit that protects the ingress and the workers.
 */

interface Bridge {
  upstream: UpstreamWebSocket;
  client: ClientSocket<UserData> | null;
  slot: number;
  openedAt: number;
  /** Gives the admission back; runs its body once, whichever way the socket ends. */
  release: () => void;
  /** Worker messages that arrived before the client side opened; null from then on. */
  early: [Buffer, boolean][] | null;
  /** The worker sent something (a message or a pong) since the last liveness check. */
  heard: boolean;
  /** What the client sent that the worker had not taken yet, at the last liveness check. */
  backlog: number;
  liveness: NodeJS.Timeout | null;
  /** How the session ended for the worker's counters and the access log, when not as `ok`. */
  outcome: OutcomeValue;
  /** Message bytes from the client and to it, for the access log. */
  bytesIn: number;
  bytesOut: number;
  /** Writes the session's access log line when it ends. */
  logEnd: (status: number, outcome: AccessOutcome) => void;
}

/** uWS copies the user data object on upgrade, so the shared state sits one reference deeper. */
interface UserData {
  bridge: Bridge;
}

const SKIPPED_UPGRADE_FIELDS = new Set(['host', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);
/** Above this many buffered bytes on one side, reading from the other side pauses. */
const HIGH_WATER = 1 << 20;
/** The status codes of the close frames the ingress sends when it ends a session itself. */
const GOING_AWAY = 1001;
const TRY_AGAIN_LATER = 1013;
const BAD_GATEWAY = 1014;
/** The reason sent with GOING_AWAY when the ingress drains. */
const SHUTTING_DOWN = 'the ingress is shutting down';

export interface WebSocketOptions {
  connectMs: number;
  idleMs: number;
  maxMessageBytes: number;
}

/** passedClose()'s answers that are not a code to send. */
const DROP = -1;
const NO_CODE = 0;

/**
 * What the other side gets for the close one side reported: 1006 (the connection ended without a
 * close frame) and 1015 (TLS failed) drop its connection too; 1005 (a close frame without a code)
 * and codes that may not be sent give a close frame without a code; others pass as they came.
 */
function passedClose(code: number): number {
  if (code === 1006 || code === 1015) return DROP;
  return code === 1005 || code < 1000 || code >= 5000 ? NO_CODE : code;
}

/**
 * The most a client may have buffered towards it: pausing the worker at HIGH_WATER can be
 * overshot by the message that crossed it and the rest of the read it came in. Beyond this uWS
 * would drop messages (send() returns 2), so the bridge never lets it get there (relayDown).
 */
const maxBuffered = (options: WebSocketOptions): number => options.maxMessageBytes + 2 * HIGH_WATER;

/** This thread's open sessions (both Apps'), for ending them when the ingress drains. */
const sessions = new Set<Bridge>();

/**
 * Ends every open session with 1001 (going away) to the client, which the close handler passes
 * to the worker, as the ingress drains: the client can reconnect at once (to another ingress),
 * where otherwise its session would hold the drain until timeouts.shutdownMs and then be cut
 * without a close frame. Upgrades still under way are ended as they open.
 */
export function endWebSockets(): void {
  for (const bridge of sessions) bridge.client?.end(GOING_AWAY, SHUTTING_DOWN);
}

export function attachWebSocketBridge(app: TemplatedApp, ctx: ExchangeContext, options: WebSocketOptions, scheme: Scheme): void {
  app.ws<UserData>('/*', {
    maxPayloadLength: options.maxMessageBytes,
    idleTimeout: Math.max(8, Math.round(options.idleMs / 1000)),
    maxBackpressure: maxBuffered(options),
    upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
      const { stats } = ctx;
      const startedAt = stats.now();
      const key = req.getHeader('sec-websocket-key');
      const protocols = req.getHeader('sec-websocket-protocol');
      // One pass over the fields, as the HTTP path reads them: X-Forwarded-For lines joined, the
      // last -Proto and -Host, the client's first id and sticky cookie (before any rule).
      const { rules, requestIdHeader: idHeader, stickyCookie } = ctx.head;
      const headers: Record<string, string> = {};
      let forwardedFor = '';
      let forwardedProto = '';
      let forwardedHost = '';
      let incomingId = '';
      let stickyToken = '';
      const peer = clientAddress(res);
      const trusted = trustedPeer(ctx.head.trustedProxies, peer);
      // Byte strings, as received (see raw-head.ts), as the HTTP path forwards them.
      const invalid = readHead(req, (name, value) => {
        if (name === 'x-forwarded-for') forwardedFor = forwardedFor ? `${forwardedFor}, ${value}` : value;
        else if (name === 'x-forwarded-proto') forwardedProto = value;
        else if (name === 'x-forwarded-host') forwardedHost = value;
        else if (name === idHeader) incomingId ||= value;
        else if (name === 'cookie' && stickyCookie !== null && stickyToken === '') stickyToken = cookieValue(value, stickyCookie);
        if (name === idHeader || SKIPPED_UPGRADE_FIELDS.has(name) || isHopByHop(name) || rules.dropped.has(name) || (trusted === null && isForwardingField(name))) return;
        // Repeated lines are joined as the HTTP path's worker would read them (cookies with "; ").
        headers[name] = Object.hasOwn(headers, name) ? `${headers[name]}${name === 'cookie' ? '; ' : ', '}${value}` : value;
      });
      const { target } = requestLine;
      for (const [name, value] of rules.set) headers[name] = value;
      const fwd = forwarding(trusted, peer, scheme, forwardedFor, forwardedProto, forwardedHost, req.getHeader('host'));
      const client = fwd.client;
      headers['x-forwarded-for'] = fwd.forwardedFor;
      headers['x-forwarded-proto'] = fwd.proto;
      if (fwd.host) headers['x-forwarded-host'] = fwd.host;
      const requestId = idHeader === null ? '' : requestIdFor(incomingId, ctx.head);
      // The 101 is uWS's to write, so the client does not get the id back; the worker and the log do.
      if (idHeader !== null) headers[idHeader] = requestId;
      let worker: string | null = null;
      /** Answers the upgrade with an error of the ingress's own, and logs it. */
      const refuse = (status: number, message: string, outcome: AccessOutcome, retryAfterS = 1): void => {
        sendError(res, status, message, true, ctx.responseFields.own(scheme, requestId, status === 503 || status === 429 ? { 'retry-after': String(retryAfterS) } : undefined));
        logEnd(status, outcome, 0, 0);
      };
      const logEnd = (status: number, outcome: AccessOutcome, bytesIn: number, bytesOut: number): void =>
        ctx.accessLog?.write({ client, method: 'GET', scheme, target, status, worker, durationMs: stats.now() - startedAt, bytesIn, bytesOut, outcome, requestId });
      if (invalid !== '') return refuse(400, `invalid WebSocket upgrade: ${invalid}`, 'rejected');
      if (ctx.access !== null && !ctx.access.permits(client)) return refuse(403, forbiddenMessage(client), 'rejected');
      const wait = ctx.rates.waitSeconds(client, ctx.limits);
      if (wait > 0) return refuse(429, rateLimitedMessage(client, ctx.limits.clientRequestsPerSecond), 'rejected', wait);
      let offered: string[];
      try {
        offered = parseSubprotocols(protocols);
      } catch (err) {
        // Subprotocols no worker could answer (not tokens, or one twice): the client's doing.
        return refuse(400, `invalid WebSocket upgrade: ${(err as Error).message}`, 'rejected');
      }
      const limit = ctx.limits.maxConcurrentRequests;
      if (!stats.tryAdmit(limit)) return refuse(503, `more than ${limit} requests in flight`, 'rejected');

      let admitted = true;
      const release = (): void => {
        if (admitted) stats.release();
        admitted = false;
      };
      // Once the client went away, was answered or was upgraded, res must not be touched again.
      let settled = false;
      res.onAborted(() => {
        settled = true;
        logEnd(0, 'client-ended', 0, 0);
      });
      // A WebSocket goes to the worker its sticky cookie names, as the client's requests do
      // (socket.io and the like need that); a 101 sets no cookie, as browsers may ignore it there.
      const picked = pickWorker(ctx, stickyToken);
      if (picked === undefined || picked === ALL_FULL) {
        release();
        // An upgrade does not wait in the queue: it would hold a worker's place for the socket's life.
        return refuse(503, picked === undefined ? 'no worker is available' : `every worker has limits.maxRequestsPerWorker (${ctx.limits.maxRequestsPerWorker}) in flight`, 'rejected');
      }
      const { pool, slot } = picked;
      worker = pool.workerId;
      // The socket holds its place on the worker (taken by the pick) from here until it closes;
      // an upgrade that fails first gives it back, counted as neither success nor failure.
      let placed = true;
      const unplace = (outcome: OutcomeValue = Outcome.clientEnded, latencyUs = 0): void => {
        if (placed) stats.end(slot, latencyUs, outcome);
        placed = false;
      };
      let fields = '';
      for (const [name, value] of Object.entries(headers)) fields += `${name}: ${value}\r\n`;
      const upstreamOptions = { connectMs: options.connectMs, idleMs: options.idleMs, maxMessageBytes: options.maxMessageBytes, maxRefusalBytes: MAX_REFUSAL_BODY };
      // Its events come from later reads, never from the constructor, so they may use `bridge`.
      const upstream = new UpstreamWebSocket(pool.host, pool.port, target, offered, fields, upstreamOptions, {
        onOpen: (protocol) => {
          if (settled) {
            release();
            unplace();
            return upstream.terminate();
          }
          // From here on, uWS's close handler gives the admission back.
          settled = true;
          // Not in res.cork(), which at times closes the new WebSocket at once (1006) in uWS.js
          // 20.30: see asCallback in native/peer-cache. Without the addon, in a cork all the same.
          const upgrade = (): void => res.upgrade<UserData>({ bridge }, key, protocol, '', context);
          if (!runAsUwsCallback(upgrade, res)) res.cork(upgrade);
        },
        onRefused: (status, reason, refusalFields, body) => {
          release();
          unplace(status < 500 ? Outcome.ok : Outcome.workerFailed, (stats.now() - startedAt) * 1000);
          if (settled) return;
          settled = true;
          if (body === null) return refuse(502, `worker refused the WebSocket upgrade with status ${status}, and its body did not come whole within ${MAX_REFUSAL_BODY} bytes and timeouts.idleMs`, 'worker-failed');
          relayRefusal(res, status, reason, refusalFields, body, ctx, scheme, requestId);
          logEnd(status, status < 500 ? 'ok' : 'worker-failed', 0, body.length);
        },
        onMessage: (data, isBinary) => {
          bridge.heard = true;
          // Before the client side opens, kept (a copy: data is a view of a read buffer); once it
          // has gone, dropped.
          if (bridge.client !== null) relayDown(ctx.stats, bridge, data, isBinary, options);
          else bridge.early?.push([Buffer.from(data), isBinary]);
        },
        onPong: () => (bridge.heard = true),
        onError: (err) => {
          release();
          unplace();
          if (!settled) refuse(502, `cannot open a WebSocket to the worker: ${err.message}`, 'worker-failed');
          settled = true;
        },
        onClose: (code, reason) => {
          stopLiveness(bridge);
          const clientSocket = bridge.client;
          bridge.client = null;
          if (clientSocket === null) return;
          const passed = passedClose(code);
          if (passed === DROP) clientSocket.close();
          else if (passed === NO_CODE) clientSocket.end();
          else clientSocket.end(passed, reason);
        },
      });
      const bridge: Bridge = {
        upstream, client: null, slot, openedAt: ctx.stats.now(), release, early: [], heard: true, backlog: 0, liveness: null, outcome: Outcome.ok, bytesIn: 0, bytesOut: 0,
        logEnd: (status, outcome) => logEnd(status, outcome, bridge.bytesIn, bridge.bytesOut),
      };
    },
    open: (ws) => {
      const { bridge } = ws.getUserData();
      bridge.client = ws;
      sessions.add(bridge);
      const early = bridge.early!;
      bridge.early = null;
      for (const [data, isBinary] of early) relayDown(ctx.stats, bridge, data, isBinary, options);
      if (bridge.client === null) return; // relaying ended the session
      if (ctx.draining) {
        ws.end(GOING_AWAY, SHUTTING_DOWN);
        return;
      }
      bridge.liveness = setInterval(() => checkWorker(bridge, options), options.idleMs);
      bridge.liveness.unref();
    },
    message: (ws, message, isBinary) => {
      const { bridge } = ws.getUserData();
      const { upstream, slot } = bridge;
      if (!upstream.isOpen) return;
      ctx.stats.countBytesIn(slot, message.byteLength);
      bridge.bytesIn += message.byteLength;
      // Framed (and so copied) at once, while uWS's buffer is valid.
      upstream.send(new Uint8Array(message), isBinary);
      // This uWS build cannot pause a WebSocket's reads, and writes queue without limit: a worker that
      // falls this far behind ends the session, as nothing else would bound what the ingress holds.
      if (upstream.bufferedAmount > maxBuffered(options)) {
        endSession(bridge, Outcome.workerFailed, TRY_AGAIN_LATER, `the worker fell more than ${maxBuffered(options)} bytes behind`);
      }
    },
    drain: (ws) => {
      const { bridge } = ws.getUserData();
      if (ws.getBufferedAmount() < HIGH_WATER / 2) bridge.upstream.resume();
    },
    close: (ws, code, message) => {
      const { bridge } = ws.getUserData();
      const wasOpen = bridge.client !== null;
      bridge.client = null;
      sessions.delete(bridge);
      stopLiveness(bridge);
      bridge.release();
      ctx.stats.end(bridge.slot, (ctx.stats.now() - bridge.openedAt) * 1000, bridge.outcome);
      bridge.logEnd(101, ACCESS_OUTCOME[bridge.outcome]);
      if (!wasOpen) return;
      const { upstream } = bridge;
      const passed = passedClose(code);
      if (passed === DROP) return upstream.terminate();
      // Paused for this client's backlog, the worker's ending of the connection would go unread
      // until the close timeout (30 s), holding the connection that long.
      upstream.resume();
      if (passed === NO_CODE) upstream.close();
      else upstream.close(passed, new Uint8Array(message));
    },
  });
}

/** The largest body of a worker's refusal the client gets as it was sent; beyond it, a 502. */
const MAX_REFUSAL_BODY = 64 * 1024;

/**
 * The worker's answer to an upgrade it refused, to the client as the worker sent it: status,
 * end-to-end fields (hop-by-hop ones and framing dropped, as for any response) and body, with the
 * ingress's own fields (HSTS, the request id, the rules' set fields) as on its own answers. The
 * connection closes after it: the client asked for a WebSocket, not for keep-alive.
 */
function relayRefusal(res: HttpResponse, status: number, reason: string, fields: string[], body: Buffer, ctx: ExchangeContext, scheme: Scheme, requestId: string): void {
  const own = ctx.responseFields.relayed(scheme, requestId) ?? {};
  res.cork(() => {
    res.writeStatus(`${status} ${reason}`.trimEnd());
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i]!.toLowerCase();
      // Ours replace the worker's of the same names (replaces() covers every field own() adds).
      if (isHopByHop(name) || REFRAMED.has(name) || ctx.responseFields.replaces(scheme, name)) continue;
      res.writeHeader(fields[i]!, fields[i + 1]!);
    }
    for (const [name, value] of Object.entries(own)) res.writeHeader(name, value);
    res.end(body, true);
  });
}

/** Fields uWS writes itself (framing, Date), so a relayed response drops the worker's. */
const REFRAMED = new Set(['content-length', 'transfer-encoding', 'date']);

/**
 * Ends a session the ingress gives up on: the client gets a close frame with `code` and `reason`
 * (uWS runs the close handler, which counts the session as `outcome`), and the worker's
 * connection is dropped, since a close frame would wait behind what it has not read.
 */
function endSession(bridge: Bridge, outcome: OutcomeValue, code: number, reason: string): void {
  const client = bridge.client;
  bridge.outcome = outcome;
  bridge.upstream.terminate();
  client?.end(code, reason);
}

/**
 * Each idleMs: a worker that sent nothing since the last check, not even a pong, is hung or gone.
 * Not while it is paused for a client that is behind (its pong waits unread; the client's own
 * idle timeout bounds that), nor while it takes what the client sent (the ping waits behind it).
 */
function checkWorker(bridge: Bridge, options: WebSocketOptions): void {
  const { upstream } = bridge;
  const backlog = upstream.bufferedAmount;
  if (upstream.isPaused || backlog < bridge.backlog) bridge.heard = true;
  bridge.backlog = backlog;
  if (!bridge.heard) return endSession(bridge, Outcome.workerFailed, BAD_GATEWAY, `the worker answered no ping within ${options.idleMs} ms`);
  bridge.heard = false;
  bridge.upstream.ping();
}

function stopLiveness(bridge: Bridge): void {
  if (bridge.liveness !== null) clearInterval(bridge.liveness);
  bridge.liveness = null;
}

function relayDown(stats: StatsTable, bridge: Bridge, payload: Buffer, isBinary: boolean, options: WebSocketOptions): void {
  const client = bridge.client;
  if (client === null) return;
  stats.countBytesOut(bridge.slot, payload.byteLength);
  bridge.bytesOut += payload.byteLength;
  // 2: uWS dropped the message. maxBuffered leaves room for what comes after the pause, so this
  // is a last resort: a session missing a message must not go on as if it were whole.
  if (client.send(payload, isBinary) === 2) return endSession(bridge, Outcome.clientEnded, TRY_AGAIN_LATER, `the client fell more than ${maxBuffered(options)} bytes behind`);
  if (client.getBufferedAmount() > HIGH_WATER) bridge.upstream.pause();
}
