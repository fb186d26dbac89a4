import { connect } from 'node:net';

/**
 * Sends raw bytes on a fresh TCP connection and collects whatever comes back until the peer
 * closes or `idleMs` passes without data. Used for malformed and oversized requests.
 */
export function sendRaw(port: number, payload: Buffer | string, idleMs = 1000): Promise<{ response: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout;
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ response: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => done(false), idleMs);
    };
    socket.on('connect', () => {
      socket.write(payload);
      arm();
    });
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      arm();
    });
    socket.on('close', () => done(true));
    socket.on('error', () => undefined);
  });
}
