import uWS from 'uWebSockets.js';
import { assertPortFree } from '../drivers/free-port.js';

/** The admin API's GET endpoints, by path (e.g. "/api/status"), each producing its JSON. */
export type AdminEndpoints = Record<string, () => unknown>;

/** Answers with a producer's JSON, waiting for it when it is asynchronous (comlink calls). */
function answer(res: uWS.HttpResponse, produce: () => unknown): void {
  const value = produce();
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

function json(res: uWS.HttpResponse, status: string, body: unknown): void {
  res.cork(() => {
    res.writeStatus(status).writeHeader('content-type', 'application/json').writeHeader('cache-control', 'no-store').end(`${JSON.stringify(body, null, 2)}\n`);
  });
}

/** The admin API: JSON over HTTP, one GET per endpoint. */
export async function startAdminServer(host: string, port: number, endpoints: AdminEndpoints): Promise<AdminServer> {
  // uSockets binds with SO_REUSEPORT, which would silently share the port with another process.
  await assertPortFree(host, port).catch((err: Error) => {
    throw new Error(`admin API ${err.message}`);
  });
  const app = uWS.App();
  for (const [path, produce] of Object.entries(endpoints)) app.get(path, (res) => answer(res, produce));
  const listed = Object.keys(endpoints).map((path) => `GET ${path}`);
  app.any('/*', (res, req) => json(res, '404 Not Found', { error: `no such endpoint: ${req.getMethod().toUpperCase()} ${req.getUrl()}`, endpoints: listed }));
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
