// Envelope encoding cost: MAIL FROM + 3 RCPT TO per message, as a busy sender encodes them.
import { bench, describe } from 'vitest';
import type { BenchOptions } from 'vitest';
import { encodeCommand, planTransaction, parseEhlo, parseReply } from '../dist/index.js';

const caps = parseEhlo(parseReply('250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-DSN\r\n250 8BITMIME\r\n'));
const MESSAGES = 5_000;

function perSecond(name: string, fn: () => void): [string, () => void, BenchOptions] {
  let messages = 0;
  let ms = 0;
  return [
    name,
    () => {
      const t = performance.now();
      fn();
      ms += performance.now() - t;
      messages += MESSAGES;
    },
    {
      time: 1500,
      setup: () => {
        messages = 0;
        ms = 0;
      },
      teardown: (_task, mode) => {
        if (mode === 'run') console.log(`[figure] ${name}: ${Math.round(messages / (ms / 1000)).toLocaleString('en')} messages/s`);
      },
    },
  ];
}

describe('envelope encoding, 5,000 messages per iteration', () => {
  bench(
    ...perSecond('encodeCommand MAIL + 3 RCPT', () => {
      for (let i = 0; i < MESSAGES; i++) {
        encodeCommand({ verb: 'MAIL', from: `sender${i}@example.com`, params: { size: 12000 + i, body: '8BITMIME' } });
        encodeCommand({ verb: 'RCPT', to: `alice${i}@example.net` });
        encodeCommand({ verb: 'RCPT', to: `bob.smith+${i}@mail.example.org` });
        encodeCommand({ verb: 'RCPT', to: `"carol ${i}"@bücher.example` });
      }
    }),
  );
  bench(
    ...perSecond('planTransaction, 3 recipients, DSN', () => {
      for (let i = 0; i < MESSAGES; i++) {
        planTransaction(
          caps,
          { from: `sender${i}@example.com`, to: [`a${i}@example.net`, `b${i}@example.net`, `c${i}@example.org`], mailParams: { size: 1000, ret: 'HDRS' }, rcptParams: { notify: ['FAILURE'] } },
          { useBdat: false, smtputf8: false },
        );
      }
    }),
  );
});
