// The README's example, run as written (ports 0), so it stays true.
import { sendMail } from '@smtpkit/client';
import { expect, it } from 'vitest';
import { startInbox } from '../src/index.js';

it('README example: extensions, findings and the URL', async () => {
  const inbox = await startInbox({ smtpPort: 0, httpPort: 0 });
  try {
    await sendMail({ host: '127.0.0.1', port: inbox.smtpPort, tls: 'none', from: 'alice@example.com', to: ['bob@example.com'], data: 'Subject: Hi\r\n\r\nHello, Bob.\r\n' });
    const [message] = inbox.store.list();
    expect(message!.transaction.extensions).toEqual(['SIZE', 'PIPELINING', 'CHUNKING']);
    expect(message!.findings.map((f) => f.code)).toEqual(['missing-date', 'missing-from', 'missing-message-id']);
    expect(inbox.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  } finally {
    await inbox.close();
  }
});
