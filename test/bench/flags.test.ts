import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const BENCH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench');

test('every bench script answers --help with its usage, and an unknown flag with one clear error, before any work', () => {
  for (const script of ['alias', 'bus', 'balance', 'autoscale', 'instructions', 'proxy', 'websocket']) {
    const run = (flag: string) => spawnSync(process.execPath, [path.join(BENCH, `${script}.js`), flag], { encoding: 'utf8', timeout: 30_000 });
    const help = run('--help');
    assert.equal(help.status, 0, `${script} --help: ${help.stderr}`);
    assert.match(help.stdout, new RegExp(`^Usage: npm run bench:${script}`), script);
    const bad = run('--no-such-flag');
    assert.notEqual(bad.status, 0, `${script} ran with an unknown flag`);
    assert.match(bad.stderr, /--no-such-flag/, script);
    assert.doesNotMatch(bad.stderr, /^\s+at /m, `${script} printed a stack trace: ${bad.stderr}`);
  }
});
