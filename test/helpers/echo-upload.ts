import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';

export interface EchoResult {
  receivedBytes: number;
  sentSha256: string;
  receivedSha256: string;
}

/**
 * Streams `total` random bytes to url (POST, with backpressure) while reading the echo back,
 * hashing both directions. A slow reader pauses for pauseMs after every 4 MiB it reads, so both
 * directions back up at once.
 */
export function echoUpload(url: string, total: number, framing: 'chunked' | 'content-length', slowReader = false, pauseMs = 15): Promise<EchoResult> {
  const block = randomBytes(1 << 20);
  const sent = createHash('sha256');
  const received = createHash('sha256');
  let receivedBytes = 0;
  return new Promise((resolve, reject) => {
    const headers = framing === 'chunked' ? { 'transfer-encoding': 'chunked' } : { 'content-length': total };
    const req = request(url, { method: 'POST', headers }, (res) => {
      res.on('data', (c: Buffer) => {
        received.update(c);
        const before = receivedBytes;
        receivedBytes += c.length;
        if (slowReader && before >> 22 !== receivedBytes >> 22) {
          res.pause();
          setTimeout(() => res.resume(), pauseMs);
        }
      });
      res.on('end', () => resolve({ receivedBytes, sentSha256: sent.digest('hex'), receivedSha256: received.digest('hex') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    let written = 0;
    const pump = (): void => {
      while (written < total) {
        const piece = total - written >= block.length ? block : block.subarray(0, total - written);
        sent.update(piece);
        written += piece.length;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}
