/**
 * The WebSocket backend of bench:websocket: a uWebSockets.js App that echoes every message as it
 * came (text or binary) and answers any HTTP request with 200, which is how the bench sees it is
 * up. uWS, so that the backend's own cost is small beside the proxies' (a `ws` server costs more
 * per session than some of them).
 *
 * Run as: node ws-echo-server.js --port P
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const uWS = createRequire(import.meta.url)('uWebSockets.js') as typeof import('uWebSockets.js');
const port = Number(parseArgs({ options: { port: { type: 'string' } } }).values.port);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: ws-echo-server --port P');
  process.exit(2);
}
uWS
  .App()
  .ws('/*', { maxPayloadLength: 1 << 20, idleTimeout: 120, message: (ws, message, isBinary) => void ws.send(message, isBinary) })
  .any('/*', (res) => void res.end('ws-echo\n'))
  .listen('127.0.0.1', port, (socket) => {
    if (!socket) {
      console.error(`ws-echo-server: cannot listen on 127.0.0.1:${port}`);
      process.exit(1);
    }
  });
