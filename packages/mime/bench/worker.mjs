// One measurement in a fresh process, so peak RSS belongs to one library and one size only.
// argv: <library: smtpkit | nodemailer | baseline> <attachment octets>. Prints one JSON line.
import { Readable } from 'node:stream';

const [library, sizeArg] = process.argv.slice(2);
const size = Number(sizeArg);
const CHUNK = 64 * 1024;
const block = Buffer.alloc(CHUNK);
for (let i = 0; i < CHUNK; i++) block[i] = (i * 2654435761) >>> 24;

async function* content(octets) {
  for (let sent = 0; sent < octets; sent += CHUNK) yield sent + CHUNK <= octets ? block : block.subarray(0, octets - sent);
}

const mail = {
  from: 'Alice Example <alice@example.com>',
  to: ['Bob <bob@example.org>'],
  subject: 'Benchmark message with a large attachment',
  text: 'Please find the file attached.\n',
  html: '<p>Please find the file attached.</p>\n',
};

async function drain(iterable) {
  let n = 0;
  for await (const chunk of iterable) n += chunk.length;
  return n;
}

// Load the library before the clock starts: the figure is encoding throughput, not module loading.
const { buildMessage } = library === 'smtpkit' ? await import('../dist/index.js') : {};
const { default: MailComposer } = library === 'nodemailer' ? await import('nodemailer/lib/mail-composer') : {};

async function run(octets) {
  if (library === 'smtpkit') {
    const message = buildMessage({ ...mail, attachments: [{ filename: 'data.bin', content: content(octets), size: octets }] });
    return drain(message);
  }
  if (library === 'nodemailer') {
    const composer = new MailComposer({ ...mail, attachments: [{ filename: 'data.bin', content: Readable.from(content(octets), { objectMode: false }) }] });
    return drain(composer.compile().createReadStream());
  }
  if (library !== 'baseline') throw new Error(`unknown library ${library}`);
  return 0;
}

// A 64 MiB message first, so both libraries are measured warm (JIT tiers, RNG and ICU initialised):
// the figure is steady-state throughput, as in a long-running process.
await run(64 * 1024 * 1024);

const started = performance.now();
const cpuStart = process.cpuUsage();
const output = await run(size);
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuStart);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
process.stdout.write(
  `${JSON.stringify({ library, size, output, seconds, mibPerSecond: size / 1048576 / seconds, cpuSeconds, mibPerCpuSecond: size / 1048576 / cpuSeconds, peakRssMb: process.resourceUsage().maxRSS / 1024 })}\n`,
);
