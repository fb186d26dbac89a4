// Builds the addons for the uWS.js binary at `npm ci`: the client-address cache (peer_cache.c) and
// the request-head reader (request_head.cc). They are optional: without a C and C++ toolchain
// (python3, make, cc, c++) the build fails, this says so, and the install goes on; the ingress
// then makes a getpeername() call per request, with the same answers, and forwards request heads
// as uWS.js reads them (see src/ingress/raw-head.ts).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
// npm names its bundled node-gyp to the scripts it runs; by hand, it sits beside npm.
const gyp = process.env.npm_config_node_gyp ?? path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');

if (process.platform !== 'linux') {
  console.log('weighbridge: native/peer-cache is for Linux only; not built');
} else if (!existsSync(gyp)) {
  console.warn(`weighbridge: node-gyp not found at ${gyp}; native/peer-cache not built (the ingress will make a getpeername() call per request and forward request heads as uWS.js reads them)`);
} else {
  // The headers of the Node that runs this, where its installation has them (Debian's and the
  // official tarballs do): without a nodedir, node-gyp would download them, and the machines this
  // runs on may have no internet. npm passes its own nodedir setting, if any, in the environment.
  const nodedir = path.join(path.dirname(process.execPath), '..');
  const local = !process.env.npm_config_nodedir && existsSync(path.join(nodedir, 'include', 'node', 'node_api.h')) ? [`--nodedir=${nodedir}`] : [];
  const run = spawnSync(process.execPath, [gyp, 'rebuild', '--directory', dir, ...local], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (run.status !== 0) {
    const why = `${run.stderr ?? ''}${run.error?.message ?? ''}`.split('\n').filter((l) => /ERR!|error/i.test(l)).slice(0, 6).join('\n');
    console.warn(`weighbridge: native/peer-cache was not built (the ingress will make a getpeername() call per request and forward request heads as uWS.js reads them):\n${why}`);
  }
}
