// Scale-out with @smtpkit/queue on BullMQ / Redis: one producer and N worker processes sharing one Redis.
//
//   node dist/queue-scale-out.js --redis redis://127.0.0.1:6379 [--workers 3] [--messages 200] [--relay HOST:PORT]
//
// Without --relay it starts a local SMTP server (smtp-server, 127.0.0.1, a free port) as the destination. Each
// worker is a separate process (on one machine here; on several machines, run `--role worker` on each, pointing at
// the same Redis and relay). The producer queues the messages and waits until every one is finished.
import { fork, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createQueue, redisStore } from '@smtpkit/queue';
import { SMTPServer } from 'smtp-server';

const { values } = parseArgs({
  options: {
    redis: { type: 'string' },
    prefix: { type: 'string', default: 'scaleout' },
    workers: { type: 'string', default: '3' },
    messages: { type: 'string', default: '200' },
    relay: { type: 'string' },
    role: { type: 'string', default: 'producer' },
  },
});
if (values.redis === undefined) {
  console.error('usage: queue-scale-out --redis URL [--workers N] [--messages N] [--relay HOST:PORT]');
  process.exit(64);
}
const redis = values.redis;

async function worker(relay: string): Promise<void> {
  const [host, port] = relay.split(':');
  const queue = await createQueue({ store: redisStore({ url: redis, prefix: values.prefix }), limits: { default: { sessions: 4 } } });
  let delivered = 0;
  queue.on('recipient', (e) => {
    if (e.state === 'delivered') delivered++;
  });
  const w = queue.worker({ concurrency: 4, deliver: { host: host ?? '127.0.0.1', port: Number(port), tls: 'none' } });
  await w.ready;
  process.send?.({ ready: process.pid });
  process.on('message', async () => {
    await w.close();
    await queue.close();
    process.send?.({ delivered });
    process.exit(0);
  });
}

async function producer(): Promise<void> {
  let received = 0;
  let server: SMTPServer | undefined;
  let relay = values.relay;
  if (relay === undefined) {
    server = new SMTPServer({
      logger: false, authOptional: true, disabledCommands: ['STARTTLS'],
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => {
          received++;
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
    relay = `127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  }
  const count = Number(values.messages);
  const children: ChildProcess[] = [];
  const self = fileURLToPath(import.meta.url);
  for (let i = 0; i < Number(values.workers); i++) {
    const child = fork(self, ['--role', 'worker', '--redis', redis, '--prefix', values.prefix, '--relay', relay]);
    await new Promise<void>((resolve) => child.once('message', () => resolve()));
    children.push(child);
  }
  console.log(`${children.length} workers on ${redis}, delivering to ${relay}`);
  const queue = await createQueue({ store: redisStore({ url: redis, prefix: values.prefix }) });
  const started = Date.now();
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const raw = `From: producer@example.org\r\nTo: user${i}@example.com\r\nSubject: scale-out ${i}\r\n\r\nmessage ${i}\r\n`;
    ids.push((await queue.enqueue({ from: 'producer@example.org', to: [`user${i}@example.com`], raw })).id);
  }
  for (let finished = 0; finished < ids.length; ) {
    await new Promise((r) => setTimeout(r, 200));
    finished = 0;
    for (const id of ids) if ((await queue.status(id))?.final === true) finished++;
  }
  console.log(`${count} messages finished in ${Date.now() - started} ms`);
  const perWorker = await Promise.all(
    children.map((child) => new Promise<number>((resolve) => {
      child.once('message', (m: { delivered: number }) => resolve(m.delivered));
      child.send('stop');
    })),
  );
  console.log(`delivered per worker: ${perWorker.join(', ')}${server ? `; the server received ${received}` : ''}`);
  await queue.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
}

if (values.role === 'worker') await worker(values.relay ?? '127.0.0.1:25');
else await producer();
