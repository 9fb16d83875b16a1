// The lab client against the smtpkit inbox: what the lab's grader sees, byte for byte.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startInbox } from '@smtpkit/inbox';
import { describe, expect, it } from 'vitest';
import { END_MSG, FROM, MSG, TO } from '../src/lab.js';

const LAB = fileURLToPath(new URL('../dist/lab.js', import.meta.url));

describe('the lab client into the inbox', () => {
  it('`node dist/lab.js PORT`: stored byte for byte, transcript and findings shown', async () => {
    const inbox = await startInbox({ smtpPort: 0, httpPort: 0 });
    try {
      await promisify(execFile)(process.execPath, [LAB, String(inbox.smtpPort), '127.0.0.1'], { timeout: 30_000 });
      const [m] = inbox.store.list();
      // the lab writes MSG, then END_MSG ("\r\n.\r\n"): its first CRLF ends the message's last line
      expect(m!.raw.toString('latin1')).toBe(MSG + END_MSG.slice(0, 2));
      expect(m!.transaction).toMatchObject({ from: FROM, to: [TO], via: 'DATA', extensions: [] });
      expect(m!.findings.map((f) => f.code)).toEqual(expect.arrayContaining(['missing-date', 'missing-from', 'missing-message-id']));
      const session = inbox.store.session(m!.sessionId)!;
      expect(session.transcript.filter((l) => l.dir === 'C').map((l) => l.text).slice(0, 4)).toEqual([
        'HELO Alice\r\n', `MAIL FROM:<${FROM}>\r\n`, `RCPT TO:<${TO}>\r\n`, 'DATA\r\n',
      ]);
      const evidence = await (await fetch(new URL(`evidence/${m!.id}`, inbox.url))).text();
      expect(evidence).toContain('I love computer networks!');
      expect(evidence).toContain('C: HELO Alice');
    } finally {
      await inbox.close();
    }
  });
});
