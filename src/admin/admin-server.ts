import uWS from 'uWebSockets.js';
import { assertPortFree } from '../drivers/free-port.js';
import { WeighbridgeError } from '../errors.js';

/** A GET endpoint's answer that is not JSON (the Prometheus exposition). */
export class TextReply {
  constructor(
    readonly contentType: string,
    readonly text: string,
  ) {}
}

/** The admin API's GET endpoints, by path (e.g. "/api/status"), each producing its JSON or a TextReply. */
export type AdminEndpoints = Record<string, () => unknown>;
/** POST endpoints: each takes the request's JSON body; a WeighbridgeError becomes a 400. */
export type AdminActions = Record<string, (body: unknown) => Promise<unknown>>;

const MAX_BODY_BYTES = 64 * 1024;

/** Reads a JSON body (at most MAX_BODY_BYTES), runs the action and answers with its result. */
function act(res: uWS.HttpResponse, action: (body: unknown) => Promise<unknown>): void {
  let aborted = false;
  res.onAborted(() => (aborted = true));
  const chunks: Buffer[] = [];
  let size = 0;
  res.onData((chunk, isLast) => {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) {
      if (!aborted) json(res, '413 Content Too Large', { error: `the body exceeds ${MAX_BODY_BYTES} bytes` });
      aborted = true;
      return;
    }
    chunks.push(Buffer.from(new Uint8Array(chunk)));
    if (!isLast || aborted) return;
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return json(res, '400 Bad Request', { error: 'the body is not JSON' });
    }
    action(body).then(
      (v) => aborted || json(res, '200 OK', v),
      (err: Error) => aborted || json(res, err instanceof WeighbridgeError ? '400 Bad Request' : '500 Internal Server Error', { error: err.message }),
    );
  });
}

/** Answers with a producer's JSON, waiting for it when it is asynchronous (comlink calls). */
function answer(res: uWS.HttpResponse, produce: () => unknown): void {
  let value: unknown;
  try {
    value = produce();
  } catch (err) {
    return json(res, '500 Internal Server Error', { error: (err as Error).message });
  }
  if (value instanceof TextReply) {
    return void res.cork(() => {
      res.writeStatus('200 OK').writeHeader('content-type', value.contentType).writeHeader('cache-control', 'no-store').end(value.text);
    });
  }
  if (!(value instanceof Promise)) return json(res, '200 OK', value);
  let aborted = false;
  res.onAborted(() => (aborted = true));
  value.then(
    (v: unknown) => aborted || json(res, '200 OK', v),
    (err: Error) => aborted || json(res, '500 Internal Server Error', { error: err.message }),
  );
}

export interface AdminServer {
  readonly port: number;
  close(): void;
}

function json(res: uWS.HttpResponse, status: string, body: unknown, allow?: string): void {
  res.cork(() => {
    res.writeStatus(status).writeHeader('content-type', 'application/json').writeHeader('cache-control', 'no-store');
    if (allow !== undefined) res.writeHeader('allow', allow);
    res.end(`${JSON.stringify(body, null, 2)}\n`);
  });
}

/** The admin API: JSON over HTTP, a GET per view and a POST per action. */
export async function startAdminServer(host: string, port: number, endpoints: AdminEndpoints, actions: AdminActions = {}): Promise<AdminServer> {
  // uSockets binds with SO_REUSEPORT, which would silently share the port with another process.
  await assertPortFree(host, port).catch((err: Error) => {
    throw new Error(`admin API ${err.message}`);
  });
  const app = uWS.App();
  for (const [path, produce] of Object.entries(endpoints)) app.get(path, (res) => answer(res, produce));
  for (const [path, action] of Object.entries(actions)) app.post(path, (res) => act(res, action));
  const listed = [...Object.keys(endpoints).map((path) => `GET ${path}`), ...Object.keys(actions).map((path) => `POST ${path}`)];
  app.any('/*', (res, req) => {
    const method = req.getMethod().toUpperCase();
    const url = req.getUrl();
    // A known path asked with another method: 405 with the one it takes (RFC 9110 section 15.5.6).
    const allow = Object.hasOwn(endpoints, url) ? 'GET' : Object.hasOwn(actions, url) ? 'POST' : undefined;
    if (allow !== undefined) return json(res, '405 Method Not Allowed', { error: `${method} ${url}: this endpoint takes ${allow}` }, allow);
    json(res, '404 Not Found', { error: `no such endpoint: ${method} ${url}`, endpoints: listed });
  });
  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket) => {
      if (!socket) return reject(new Error(`admin API cannot listen on ${host}:${port}`));
      resolve({
        port: uWS.us_socket_local_port(socket as unknown as uWS.us_socket),
        close: () => app.close(),
      });
    });
  });
}
