import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Bus } from '../../src/bus/bus.js';
import { NatsTransport, type NatsOptions } from '../../src/bus/nats-transport.js';
import { topics } from '../../src/bus/subjects.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { selfSignedCert } from '../helpers/tls.js';

const quiet = (): void => {};

/** A bus on these options can publish to itself and receive it. */
async function roundTrip(options: NatsOptions): Promise<void> {
  const bus = new Bus(await NatsTransport.connect(options, quiet), quiet);
  try {
    const got = new Promise<string>((resolve) => bus.subscribe(topics.presence('me'), (m) => resolve(m.host)));
    await bus.flush();
    bus.publish(topics.presence('me'), { type: 'presence', v: 1, host: 'me', roles: [], startedAt: 1, at: 2 });
    assert.equal(await got, 'me');
  } finally {
    await bus.close();
  }
}

test('nats: user and password, and the wrong password is a clear error, not a silent retry', async () => {
  const server = await startNatsServer('authorization { user: wb, password: s3cret }');
  try {
    await roundTrip({ servers: [server.url], user: 'wb', pass: 's3cret' });
    await assert.rejects(NatsTransport.connect({ servers: [server.url], user: 'wb', pass: 'wrong' }, quiet), /cannot connect to NATS at .*: .*(authorization|auth)/i);
  } finally {
    await server.stop();
  }
});

test('nats: token authentication', async () => {
  const server = await startNatsServer('authorization { token: t0ken }');
  try {
    await roundTrip({ servers: [server.url], token: 't0ken' });
  } finally {
    await server.stop();
  }
});

test('nats: TLS with the server certificate checked against a CA file', async () => {
  const { cert, key } = selfSignedCert();
  const server = await startNatsServer(`tls { cert_file: "${cert}", key_file: "${key}" }`);
  try {
    await roundTrip({ servers: [server.url], tls: { caFile: cert } });
  } finally {
    await server.stop();
  }
});
