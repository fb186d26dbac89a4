#!/usr/bin/env node
/**
 * Builds a Docker image of the example worker without a registry or a base image: a root
 * filesystem of the node binary, the libraries ldd lists for it and the worker, imported with
 * `docker import`. `npm run image:worker [-- TAG]` (default weighbridge-worker:latest); the tests
 * and benchmarks build theirs the same way.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export async function buildWorkerImage(tag: string): Promise<void> {
  const fs = mkdtempSync(join(tmpdir(), 'weighbridge-image-'));
  try {
    const node = process.execPath;
    for (const file of [node, ...sharedLibraries(node)]) {
      mkdirSync(join(fs, dirname(file)), { recursive: true });
      cpSync(file, join(fs, file), { dereference: true });
    }
    mkdirSync(join(fs, 'usr', 'bin'), { recursive: true });
    if (node !== '/usr/bin/node') cpSync(node, join(fs, 'usr', 'bin', 'node'));
    cpSync(join(ROOT, 'dist', 'src', 'worker'), join(fs, 'app', 'worker'), { recursive: true });
    cpSync(join(ROOT, 'node_modules', 'ws'), join(fs, 'app', 'node_modules', 'ws'), { recursive: true });
    writeFileSync(join(fs, 'app', 'package.json'), '{"type":"module"}\n');
    mkdirSync(join(fs, 'tmp'));
    await dockerImport(fs, tag);
  } finally {
    rmSync(fs, { recursive: true, force: true });
  }
}

/** The absolute paths `ldd` prints for a binary (the loader included). */
function sharedLibraries(binary: string): string[] {
  return [...execFileSync('ldd', [binary], { encoding: 'utf8' }).matchAll(/(\/\S+)/g)].map((m) => m[1]!);
}

function dockerImport(dir: string, tag: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['-C', dir, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const docker = spawn('docker', ['import', '--change', 'ENTRYPOINT ["/usr/bin/node", "/app/worker/example-worker.js"]', '-', tag], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    docker.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    tar.stdout.pipe(docker.stdin);
    docker.on('error', reject);
    docker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`docker import exited with ${code}: ${stderr.trim()}`))));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const tag = process.argv[2] ?? 'weighbridge-worker:latest';
  buildWorkerImage(tag).then(
    () => console.log(`built ${tag}`),
    (err: Error) => {
      console.error(`image:worker: ${err.message}`);
      process.exit(1);
    },
  );
}
