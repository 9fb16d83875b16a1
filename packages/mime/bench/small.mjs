// `node bench/small.mjs [drain|bytes|buffer] [messages] [warmup]` (after `pnpm --filter @smtpkit/mime build`):
// CPU per message of building the message of the end-to-end bench's composed rows (from, to, subject and
// ~1.9 KB of text) in this fresh process: the first `messages` (cold: the interpreter and the compilers at
// work) then, after `warmup` unmeasured, `messages` more (warm). How the bytes are taken:
//   drain   `for await` over the message (a stream consumer)
//   bytes   `message.bytes`, the whole message when it is in memory (what a transport takes in one piece)
//   buffer  `await message.toBuffer()`
// Prints one JSON line. Profile with `node --cpu-prof bench/small.mjs …`.
import { buildMessage } from '../dist/index.js';

const [mode = 'drain', messagesArg = '5000', warmupArg = '20000'] = process.argv.slice(2);
const messages = Number(messagesArg);
const warmup = Number(warmupArg);

const line = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod temp\r\n';
const text = line.repeat(Math.floor((2048 - 270) / line.length));

async function take(message) {
  if (mode === 'bytes') return message.bytes.length;
  if (mode === 'buffer') return (await message.toBuffer()).length;
  let n = 0;
  for await (const chunk of message) n += chunk.length;
  return n;
}

async function run(n) {
  let octets = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) octets += await take(buildMessage({ from: 'bench@example.com', to: ['sink@example.com'], subject: 'smtpkit bench', text }));
  const cpu = process.cpuUsage(cpu0);
  return { usPerMessage: (cpu.user + cpu.system) / n, octets: octets / n };
}

const cold = await run(messages);
await run(warmup);
const warm = await run(messages);
console.log(JSON.stringify({ mode, messages, cold: cold.usPerMessage.toFixed(1), warm: warm.usPerMessage.toFixed(1), octets: cold.octets }));
