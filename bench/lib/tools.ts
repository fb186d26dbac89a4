/** Finds wrk, haproxy and nginx, installing the Debian packages when run as root. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface Tools {
  wrk: string;
  haproxy: string;
  nginx: string;
}

const PACKAGES: Record<keyof Tools, string> = { wrk: 'wrk', haproxy: 'haproxy', nginx: 'nginx-light' };
// haproxy and nginx live in sbin, which is often not on a normal user's PATH.
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin'];

function findExecutable(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const full = path.join(dir, name);
    try {
      fs.accessSync(full, fs.constants.X_OK);
      if (fs.statSync(full).isFile()) return full;
    } catch {
      /* not here */
    }
  }
  return null;
}

function findAll(): { found: Partial<Tools>; missing: (keyof Tools)[] } {
  const found: Partial<Tools> = {};
  const missing: (keyof Tools)[] = [];
  for (const name of Object.keys(PACKAGES) as (keyof Tools)[]) {
    const p = findExecutable(name);
    if (p) found[name] = p;
    else missing.push(name);
  }
  return { found, missing };
}

function apt(args: string[]): boolean {
  console.log(`$ apt-get ${args.join(' ')}`);
  const r = spawnSync('apt-get', args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return r.status === 0;
}

/** Returns absolute paths of the three tools, installing missing ones with apt-get if we are root. */
export function ensureTools(): Tools {
  let { found, missing } = findAll();
  if (missing.length > 0) {
    const pkgs = missing.map((m) => PACKAGES[m]);
    if (process.getuid?.() !== 0) {
      throw new Error(
        `missing ${missing.join(', ')}; install them first: sudo apt-get install -y ${pkgs.join(' ')}`,
      );
    }
    console.log(`missing ${missing.join(', ')}: installing ${pkgs.join(' ')}`);
    if (!apt(['install', '-y', ...pkgs])) {
      if (!apt(['update']) || !apt(['install', '-y', ...pkgs])) {
        throw new Error(`apt-get install -y ${pkgs.join(' ')} failed`);
      }
    }
    ({ found, missing } = findAll());
    if (missing.length > 0) throw new Error(`still missing after apt-get install: ${missing.join(', ')}`);
  }
  return found as Tools;
}

/** The absolute path of one more executable, installing its Debian package if we are root. */
export function ensureExecutable(name: string, pkg: string): string {
  const found = findExecutable(name);
  if (found) return found;
  if (process.getuid?.() !== 0) throw new Error(`missing ${name}; install it first: sudo apt-get install -y ${pkg}`);
  if (!apt(['install', '-y', pkg]) && (!apt(['update']) || !apt(['install', '-y', pkg]))) throw new Error(`apt-get install -y ${pkg} failed`);
  const installed = findExecutable(name);
  if (!installed) throw new Error(`still missing after apt-get install: ${name}`);
  return installed;
}

/** First line of a tool's version output, for the results file. */
export function toolVersion(bin: string, args: string[]): string {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  return text.split('\n')[0]?.trim() ?? 'unknown';
}
