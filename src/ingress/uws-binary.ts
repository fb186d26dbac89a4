import { readFileSync } from 'node:fs';

/** The path of the uWS.js binary this process has loaded (from /proc/self/maps), or null. */
export function loadedUwsBinary(): string | null {
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    // "address perms offset dev inode      /path/to/file"
    const at = line.indexOf('/');
    if (at >= 0 && /\/uws_[^/]*\.node$/.test(line)) return line.slice(at);
  }
  return null;
}
