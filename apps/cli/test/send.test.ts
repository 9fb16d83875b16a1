import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import PostalMime from 'postal-mime';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { captured, CLI, PASSWORD, runCli, scratch, startServer, TOKEN, type TestServer } from './helpers.js';

// A 1x1 PNG.
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a1c1d4d50000000049454e44ae426082', 'hex');

let server: TestServer;
let dir: string;
const servers: Array<{ close(): unknown }> = [];

beforeAll(async () => {
  server = await startServer({
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith('nobody@')) callback(Object.assign(new Error('5.1.1 No such user'), { responseCode: 550 }));
      else if (address.address.startsWith('later@')) callback(Object.assign(new Error('4.2.1 Mailbox busy'), { responseCode: 450 }));
      else callback();
    },
    onMailFrom(address, _session, callback) {
      if (address.address.startsWith('blocked@')) callback(Object.assign(new Error('5.7.1 Sender blocked'), { responseCode: 550 }));
      else if (address.address.startsWith('greylisted@')) callback(Object.assign(new Error('4.7.1 Try again later'), { responseCode: 451 }));
      else callback();
    },
  });
  dir = scratch({
    'body.txt': 'Body from a file.\n',
    'page.html': '<p>Hello <img src="cid:logo.png"></p>',
    'logo.png': PNG,
    'report.pdf': Buffer.from('%PDF-1.4 pretend'),
    'msg.eml': 'From: Alice <alice@example.com>\r\nTo: Bob <bob@example.com>, "Doe, Carol" <carol@example.com>\r\nCc: dave@example.com\r\nBcc: Hidden <eve@example.com>,\r\n frank@example.com\r\nSubject: prebuilt\r\nMessage-ID: <prebuilt-1@example.com>\r\n\r\nPrebuilt body.\r\n',
    'long.eml': `From: alice@example.com\r\nTo: bob@example.com\r\nSubject: long\r\n\r\n${'x'.repeat(2000)}\r\n`,
  });
});
afterAll(async () => {
  await server.close();
  for (const s of servers) await s.close();
  const all = captured.join('\n');
  expect(all).not.toContain(PASSWORD);
  expect(all).not.toContain(TOKEN);
});
afterEach(() => {
  server.messages.length = 0;
});

const at = () => ['-p', String(server.port)];
const last = () => server.messages[server.messages.length - 1]!;

describe('smtpkit send: message flags', () => {
  it('sends from/to with display names, subject and body; exit 0 and a one-line summary', async () => {
    const r = await runCli(['send', ...at(), '-f', 'Alice <alice@example.com>', '-t', 'Bob <bob@example.com>', '--subject', 'Hi there', '--body', 'Hello, Bob.']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^250 Ok: queued as TEST1: 1 accepted, <[^>]+>\n$/);
    const m = last();
    expect(m.from).toBe('alice@example.com');
    expect(m.to).toEqual(['bob@example.com']);
    const parsed = await PostalMime.parse(m.raw);
    expect(parsed.from).toMatchObject({ name: 'Alice', address: 'alice@example.com' });
    expect(parsed.to?.[0]).toMatchObject({ name: 'Bob', address: 'bob@example.com' });
    expect(parsed.subject).toBe('Hi there');
    expect(parsed.text?.trim()).toBe('Hello, Bob.');
  });

  it('puts Cc in the headers and Bcc only in the envelope', async () => {
    const r = await runCli(['send', ...at(), '-f', 'alice@example.com', '-t', 'bob@example.com', '--cc', 'Carol <carol@example.com>', '--bcc', 'eve@example.com', '--body', 'x']);
    expect(r.code).toBe(0);
    expect(last().to).toEqual(['bob@example.com', 'carol@example.com', 'eve@example.com']);
    expect(last().raw).toMatch(/^Cc: Carol <carol@example.com>\r$/m);
    expect(last().raw).not.toMatch(/eve@example\.com/);
  });

  it('--body-file reads a file, and - reads stdin', async () => {
    let r = await runCli(['send', ...at(), '-f', 'a@example.com', '-t', 'b@example.com', '--body-file', join(dir, 'body.txt')]);
    expect(r.code).toBe(0);
    expect((await PostalMime.parse(last().raw)).text?.trim()).toBe('Body from a file.');
    r = await runCli(['send', ...at(), '-f', 'a@example.com', '-t', 'b@example.com', '--body-file', '-'], { input: 'Body from stdin.\n' });
    expect(r.code).toBe(0);
    expect((await PostalMime.parse(last().raw)).text?.trim()).toBe('Body from stdin.');
  });

  it('--html with --inline and --attach builds alternative + related + mixed with the right types', async () => {
    const r = await runCli([
      'send', ...at(), '-f', 'a@example.com', '-t', 'b@example.com', '--subject', 'rich', '--body', 'plain',
      '--html', join(dir, 'page.html'), '--inline', join(dir, 'logo.png'), '-a', join(dir, 'report.pdf'),
    ]);
    expect(r.code).toBe(0);
    const raw = last().raw;
    expect(raw).toMatch(/Content-Type: multipart\/mixed/);
    expect(raw).toMatch(/Content-Type: multipart\/alternative/);
    expect(raw).toMatch(/Content-Type: multipart\/related/);
    const parsed = await PostalMime.parse(raw);
    expect(parsed.html).toContain('cid:logo.png');
    const logo = parsed.attachments.find((a) => a.filename === 'logo.png')!;
    expect(logo).toMatchObject({ mimeType: 'image/png', disposition: 'inline', contentId: '<logo.png>' });
    expect(Buffer.from(logo.content as ArrayBuffer)).toEqual(PNG);
    const pdf = parsed.attachments.find((a) => a.filename === 'report.pdf')!;
    expect(pdf).toMatchObject({ mimeType: 'application/pdf', disposition: 'attachment' });
  });

  it('--header adds headers', async () => {
    const r = await runCli(['send', ...at(), '-f', 'a@example.com', '-t', 'b@example.com', '--header', 'X-Campaign: spring', '--header', 'Reply-To: r@example.com']);
    expect(r.code).toBe(0);
    expect(last().raw).toMatch(/^X-Campaign: spring\r$/m);
    expect(last().raw).toMatch(/^Reply-To: r@example.com\r$/m);
  });

  it('--eml sends the file as-is to the -t recipients', async () => {
    const r = await runCli(['send', ...at(), '-f', 'alice@example.com', '-t', 'zed@example.com', '--eml', join(dir, 'msg.eml')]);
    expect(r.code).toBe(0);
    expect(last().to).toEqual(['zed@example.com']);
    expect(last().raw).toBe(readFileSync(join(dir, 'msg.eml'), 'utf8'));
  });

  it('--eml --read-recipients takes To/Cc/Bcc from the headers and strips Bcc (sendmail -t)', async () => {
    const r = await runCli(['send', ...at(), '-f', 'alice@example.com', '--eml', join(dir, 'msg.eml'), '--read-recipients', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).messageId).toBe('<prebuilt-1@example.com>');
    expect(last().to).toEqual(['bob@example.com', 'carol@example.com', 'dave@example.com', 'eve@example.com', 'frank@example.com']);
    expect(last().raw).not.toMatch(/^Bcc:/im);
    expect(last().raw).not.toContain('frank@example.com');
    expect(last().raw).toContain('Subject: prebuilt\r\nMessage-ID: <prebuilt-1@example.com>\r\n\r\nPrebuilt body.');
  });

  it('--eml - reads the message from stdin', async () => {
    const r = await runCli(['send', ...at(), '-f', 'alice@example.com', '--eml', '-', '--read-recipients'], { input: readFileSync(join(dir, 'msg.eml')) });
    expect(r.code).toBe(0);
    expect(last().to).toContain('eve@example.com');
  });
});

describe('smtpkit send: output modes', () => {
  it('--dry-run prints the message and sends nothing', async () => {
    const r = await runCli(['send', ...at(), '-f', 'Alice <alice@example.com>', '-t', 'bob@example.com', '--bcc', 'eve@example.com', '--subject', 'Dry', '--body', 'not sent']);
    expect(r.code).toBe(0);
    const before = server.messages.length;
    const d = await runCli(['send', ...at(), '-f', 'Alice <alice@example.com>', '-t', 'bob@example.com', '--subject', 'Dry', '--body', 'not sent', '--dry-run']);
    expect(d.code).toBe(0);
    expect(server.messages.length).toBe(before);
    expect(d.stdout).toMatch(/^Subject: Dry\r$/m);
    expect(d.stdout).toMatch(/^From: Alice <alice@example.com>\r$/m);
    expect(d.stdout).toContain('\r\n\r\nnot sent');
  });

  it('--dry-run needs no server at all', async () => {
    const r = await runCli(['send', '-p', '1', '-f', 'a@example.com', '-t', 'b@example.com', '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^MIME-Version: 1.0\r$/m);
  });

  it('-q prints nothing at all, on success and on failure', async () => {
    const ok = await runCli(['send', ...at(), '-q', '-f', 'a@example.com', '-t', 'b@example.com', '--body', 'q']);
    expect(ok).toEqual({ code: 0, stdout: '', stderr: '' });
    const usage = await runCli(['send', '-q', '-t', 'b@example.com']);
    expect(usage).toEqual({ code: 64, stdout: '', stderr: '' });
    const bad = await runCli(['send', ...at(), '-q', '-v', '--json', '-f', 'blocked@example.com', '-t', 'b@example.com']);
    expect(bad).toEqual({ code: 69, stdout: '', stderr: '' });
    const dry = await runCli(['send', '-q', '-f', 'a@example.com', '-t', 'b@example.com', '--dry-run']);
    expect(dry).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('-v prints the transcript as C: / S: / * lines on stderr', async () => {
    const r = await runCli(['send', ...at(), '-v', '-f', 'a@example.com', '-t', 'b@example.com', '--helo', 'client.example.org']);
    expect(r.code).toBe(0);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.every((l) => /^(C:|S:|\*) /.test(l))).toBe(true);
    expect(lines).toContain('C: EHLO client.example.org');
    expect(lines).toContain('C: MAIL FROM:<a@example.com>');
    expect(lines).toContain('C: RCPT TO:<b@example.com>');
    expect(lines.some((l) => /^C: <message \d+ bytes>$/.test(l))).toBe(true);
    expect(lines).toContain('C: QUIT');
  });

  it('--json prints one object with ok, messageId, accepted, rejected, reply, tls', async () => {
    const r = await runCli(['send', ...at(), '--json', '-f', 'a@example.com', '-t', 'b@example.com', '-t', 'nobody@example.com']);
    expect(r.code).toBe(67);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({
      ok: false,
      accepted: ['b@example.com'],
      rejected: [{ address: 'nobody@example.com', code: 550, enhanced: '5.1.1' }],
      reply: { code: 250 },
      tls: null,
    });
    expect(j.messageId).toMatch(/^<.+@example\.com>$/);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('--transcript writes the transcript as JSON lines', async () => {
    const file = join(dir, 't.jsonl');
    const r = await runCli(['send', ...at(), '--transcript', file, '-f', 'a@example.com', '-t', 'b@example.com']);
    expect(r.code).toBe(0);
    const events = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(events[0]).toMatchObject({ dir: '*' });
    expect(events.find((e) => e.dir === 'C' && e.text.startsWith('MAIL FROM'))).toBeTruthy();
    expect(events.every((e) => typeof e.at === 'number')).toBe(true);
  });

  it('--helo-only sends HELO', async () => {
    const r = await runCli(['send', ...at(), '-v', '--helo-only', '--helo', 'lab.example', '-f', 'a@example.com', '-t', 'b@example.com']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('C: HELO lab.example');
    expect(r.stderr).not.toContain('C: EHLO');
  });
});

describe('smtpkit send: delivery and progress', () => {
  it('--mx delivers straight to the recipient domain (an address literal here, so no DNS)', async () => {
    const r = await runCli(['send', '--mx', '-p', String(server.port), '-f', 'a@example.com', '-t', 'bob@[127.0.0.1]', '-t', 'carol@[127.0.0.1]', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, accepted: ['bob@[127.0.0.1]', 'carol@[127.0.0.1]'] });
    expect(last().to).toEqual(['bob@[127.0.0.1]', 'carol@[127.0.0.1]']);
  });

  it('draws a progress bar on a TTY for a large message, never with --json or -q', async () => {
    const big = join(dir, 'big.bin');
    writeFileSync(big, Buffer.alloc(3 << 20, 7));
    const run = (extra: string[]) =>
      new Promise<string>((resolve) => {
        const cmd = [process.execPath, CLI, 'send', ...at(), '-f', 'a@example.com', '-t', 'b@example.com', '-a', big, ...extra]
          .map((a) => `'${a}'`)
          .join(' ');
        const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: { PATH: process.env.PATH, SMTPKIT_CONFIG: '/nonexistent' } });
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        child.on('close', () => {
          clearTimeout(timer);
          resolve(out);
        });
      });
    expect(await run([])).toMatch(/sending \[.*\] \d+%/);
    expect(await run(['--json'])).not.toMatch(/sending \[/);
    expect(await run(['-q'])).toBe('');
    expect(last().raw.length).toBeGreaterThan(3 << 20);
  });
});

describe('smtpkit: program', () => {
  it('--version and --help exit 0; no arguments prints the help', async () => {
    const v = await runCli(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const h = await runCli(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/send \[options\]/);
    expect(h.stdout).toMatch(/probe \[options\]/);
    const sh = await runCli(['send', '--help']);
    expect(sh.code).toBe(0);
    for (const flag of ['--server', '--port', '--profile', '--mx', '--from', '--to', '--cc', '--bcc', '--subject', '--body', '--body-file', '--html', '--attach', '--inline', '--header', '--eml', '--read-recipients', '--tls', '--require-tls', '--ca', '--pin', '--insecure', '--user', '--auth', '--helo', '--helo-only', '--timeout', '--quit-after', '--dry-run', '--quiet', '--verbose', '--json', '--transcript']) {
      expect(sh.stdout).toContain(flag);
    }
    expect((await runCli([])).stdout).toMatch(/Usage: smtpkit/);
  });

  it('-s names the server', async () => {
    const r = await runCli(['send', '-s', '127.0.0.1', ...at(), '-f', 'a@example.com', '-t', 'b@example.com']);
    expect(r.code).toBe(0);
    const bad = await runCli(['send', '-s', '127.0.0.1', '-p', '1', '-f', 'a@example.com', '-t', 'b@example.com']);
    expect(bad.code).toBe(75);
    expect(bad.stderr).toMatch(/127\.0\.0\.1:1/);
  });
});

describe('smtpkit send: exit codes', () => {
  it('64: unknown flag, missing --from, password on argv', async () => {
    expect((await runCli(['send', '--no-such-flag'])).code).toBe(64);
    expect((await runCli(['send', '-t', 'b@example.com'])).code).toBe(64);
    const pw = await runCli(['send', '--password', 'x', '-f', 'a@example.com', '-t', 'b@example.com']);
    expect(pw.code).toBe(64);
    expect(pw.stderr).toMatch(/SMTPKIT_PASSWORD/);
  });

  it('64: --user without any password source (no env, no command, no TTY), before connecting', async () => {
    const r = await runCli(['send', ...at(), '-f', 'a@example.com', '-t', 'b@example.com', '--user', 'alice@example.com']);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/needs a password/);
    expect(server.messages).toHaveLength(0);
  });

  it('65: an invalid address', async () => {
    const r = await runCli(['send', ...at(), '-f', 'a@example.com', '-t', 'not an address']);
    expect(r.code).toBe(65);
    expect(r.stderr).toMatch(/^smtpkit: .+\n$/);
  });

  it('65: a header injection attempt', async () => {
    const r = await runCli(['send', ...at(), '-f', 'a@example.com', '-t', 'b@example.com', '--header', 'X-A: 1\r\nBcc: evil@example.com']);
    expect(r.code).toBe(65);
    const s = await runCli(['send', ...at(), '-f', 'a@example.com', '-t', 'b@example.com', '--subject', 'hi\r\nBcc: evil@example.com']);
    expect(s.code).toBe(65);
    expect(server.messages).toHaveLength(0);
  });

  it('65: a command injection attempt in an address', async () => {
    const r = await runCli(['send', ...at(), '-f', 'a@example.com>\r\nRCPT TO:<evil@example.com', '-t', 'b@example.com']);
    expect(r.code).toBe(65);
    expect(server.messages).toHaveLength(0);
  });

  it('65: a line too long to send (998 octets, RFC 5322 §2.1.1), nothing half-sent', async () => {
    const r = await runCli(['send', ...at(), '-f', 'a@example.com', '-t', 'b@example.com', '--eml', join(dir, 'long.eml')]);
    expect(r.code).toBe(65);
    expect(server.messages).toHaveLength(0);
  });

  it('66: an input file is missing', async () => {
    for (const flag of ['--attach', '--body-file', '--html', '--eml', '--inline']) {
      const extra = flag === '--inline' ? ['--html', join(dir, 'page.html')] : [];
      const r = await runCli(['send', ...at(), '-f', 'a@example.com', '-t', 'b@example.com', ...extra, flag, join(dir, 'missing.bin')]);
      expect(r.code, flag).toBe(66);
      expect(r.stderr).toContain('missing.bin');
    }
  });

  it('67: some recipients rejected, sent to the rest', async () => {
    const r = await runCli(['send', ...at(), '-f', 'a@example.com', '-t', 'b@example.com', '-t', 'nobody@example.com']);
    expect(r.code).toBe(67);
    expect(last().to).toEqual(['b@example.com']);
    expect(r.stderr).toMatch(/nobody@example\.com rejected: 550 5\.1\.1/);
  });

  it('69: permanent failure (550 to MAIL FROM; every recipient refused)', async () => {
    const r = await runCli(['send', ...at(), '-f', 'blocked@example.com', '-t', 'b@example.com']);
    expect(r.code).toBe(69);
    expect(r.stderr).toMatch(/MAIL FROM.*550.*Sender blocked/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const all = await runCli(['send', ...at(), '--json', '-f', 'a@example.com', '-t', 'nobody@example.com', '-t', 'nobody@example.org']);
    expect(all.code).toBe(69);
    expect(JSON.parse(all.stdout)).toMatchObject({
      ok: false,
      exitCode: 69,
      accepted: [],
      rejected: [{ address: 'nobody@example.com', code: 550 }, { address: 'nobody@example.org', code: 550 }],
    });
  });

  it('75: temporary failure (451), connection refused, timeout, connection lost', async () => {
    expect((await runCli(['send', ...at(), '-f', 'greylisted@example.com', '-t', 'b@example.com'])).code).toBe(75);
    expect((await runCli(['send', ...at(), '-f', 'a@example.com', '-t', 'later@example.com'])).code).toBe(75);
    const closed = await rawServer(() => {});
    const port = closed.port;
    await closed.close();
    expect((await runCli(['send', '-p', String(port), '-f', 'a@example.com', '-t', 'b@example.com'])).code).toBe(75);
    const silent = await rawServer(() => {});
    const t = await runCli(['send', '-p', String(silent.port), '--timeout', '1', '-f', 'a@example.com', '-t', 'b@example.com']);
    expect(t.code).toBe(75);
    expect(t.stderr).toMatch(/greeting|timed? ?out/i);
    const dropper = await rawServer((s) => {
      s.write('220 hi\r\n');
      s.once('data', () => s.destroy());
    });
    expect((await runCli(['send', '-p', String(dropper.port), '-f', 'a@example.com', '-t', 'b@example.com'])).code).toBe(75);
  });

  it('76: the server speaks something that is not SMTP', async () => {
    const garbage = await rawServer((s) => s.write('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const r = await runCli(['send', '-p', String(garbage.port), '-f', 'a@example.com', '-t', 'b@example.com']);
    expect(r.code).toBe(76);
  });
});

/** A raw TCP server for failure modes smtp-server will not produce. */
async function rawServer(onConnection: (socket: Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const srv: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    onConnection(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const handle = {
    port: (srv.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
  servers.push(handle);
  return handle;
}
