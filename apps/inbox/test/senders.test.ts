// Real senders into the inbox, and the bytes each sent compared with what the inbox stored.
// (The lab client's test is in apps/examples, which depends on this package.)
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sendMail } from '@smtpkit/client';
import { buildMessage } from '@smtpkit/mime';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inbox } from '../src/index.js';
import { getJson, testInbox } from './helpers.js';

const run = promisify(execFile);
let inbox: Inbox;
let dir: string;

/** A CRLF message with a line that starts with a dot (so the sender must dot-stuff and the inbox un-stuff). */
function message(subject: string): Buffer {
  return Buffer.from(
    [
      'From: Alice <alice@example.com>',
      'To: Bob <bob@example.com>',
      `Subject: ${subject}`,
      'Date: Mon, 07 Dec 2026 00:00:00 +0000',
      `Message-ID: <${subject.replace(/\W/g, '')}@example.com>`,
      '',
      'Hello Bob,',
      '.a line that starts with a dot',
      '..and one with two',
      '',
    ].join('\r\n'),
    'utf8',
  );
}

beforeAll(async () => {
  inbox = await testInbox();
  dir = await mkdtemp(join(tmpdir(), 'inbox-senders-'));
});
afterAll(async () => {
  await inbox.close();
  await rm(dir, { recursive: true, force: true });
});

async function stored(subject: string) {
  const list = await getJson<Array<{ id: string; subject: string }>>(inbox, '/api/messages');
  const row = list.find((m) => m.subject === subject);
  if (!row) throw new Error(`no message with subject ${subject}; have ${list.map((m) => m.subject).join(', ')}`);
  const detail = await getJson(inbox, `/api/messages/${row.id}`);
  const raw = Buffer.from(await (await fetch(new URL(`/api/messages/${row.id}/raw`, inbox.url))).arrayBuffer());
  return { detail, raw };
}

describe('real senders into the inbox: the bytes stored are the bytes sent', () => {
  it('@smtpkit/client with PIPELINING and BDAT (CHUNKING)', async () => {
    const data = message('smtpkit bdat');
    const r = await sendMail({ host: '127.0.0.1', port: inbox.smtpPort, tls: 'none', from: 'alice@example.com', to: ['bob@example.com', 'carol@example.com'], data });
    expect(r.accepted).toEqual(['bob@example.com', 'carol@example.com']);
    const { detail, raw } = await stored('smtpkit bdat');
    expect(raw.equals(data)).toBe(true);
    expect(detail.envelope.via).toBe('BDAT');
    expect(detail.envelope.chunks.reduce((a: number, b: number) => a + b, 0)).toBe(data.length);
    expect(detail.extensions).toEqual(expect.arrayContaining(['PIPELINING', 'CHUNKING', 'SIZE']));
    expect(detail.findings).toEqual([]);
  });

  it('@smtpkit/client over DATA (chunking never), with 8-bit text and SMTPUTF8', async () => {
    const data = Buffer.concat([message('smtpkit data'), Buffer.from('Grüße aus Köln\r\n', 'utf8')]);
    await sendMail({ host: '127.0.0.1', port: inbox.smtpPort, tls: 'none', chunking: 'never', from: 'jörg@example.com', to: ['bob@example.com'], data });
    const { detail, raw } = await stored('smtpkit data');
    expect(raw.equals(data)).toBe(true);
    expect(detail.envelope.via).toBe('DATA');
    expect(detail.envelope.from).toBe('jörg@example.com');
    expect(detail.extensions).toEqual(expect.arrayContaining(['PIPELINING', '8BITMIME', 'SMTPUTF8']));
    expect(detail.extensions).not.toContain('CHUNKING');
    expect(detail.findings).toEqual([]);
  });

  it('a MIME message built by @smtpkit/mime arrives byte for byte, with its tree', async () => {
    const built = buildMessage({
      from: 'alice@example.com', to: 'bob@example.com', subject: 'mime tree', text: 'plain', html: '<p>html <img src="cid:dot.png"></p>',
      inline: [{ filename: 'dot.png', cid: 'dot.png', content: Buffer.from('89504e470d0a1a0a', 'hex'), contentType: 'image/png' }],
      attachments: [{ filename: 'notes.txt', content: Buffer.from('notes\n'), contentType: 'text/plain' }],
    });
    const data = await built.toBuffer();
    await sendMail({ host: '127.0.0.1', port: inbox.smtpPort, tls: 'none', from: 'alice@example.com', to: ['bob@example.com'], data });
    const { detail, raw } = await stored('mime tree');
    expect(raw.equals(data)).toBe(true);
    expect(detail.parts.type).toBe('multipart/mixed');
    expect(detail.text).toBe('plain');
    expect(detail.html).toContain('cid:dot.png');
    expect(detail.attachments.map((a: { filename: string }) => a.filename).sort()).toEqual(['dot.png', 'notes.txt']);
    const notes = detail.attachments.find((a: { filename: string }) => a.filename === 'notes.txt');
    const part = await fetch(new URL(`/api/messages/${detail.id}/parts/${notes.n}`, inbox.url));
    expect(await part.text()).toBe('notes\n');
    expect(part.headers.get('content-disposition')).toMatch(/^attachment; filename="notes.txt"/);
    expect(part.headers.get('x-content-type-options')).toBe('nosniff');
    expect(detail.findings).toEqual([]);
  });

  it('swaks with --pipeline', async () => {
    const data = message('swaks');
    const file = join(dir, 'swaks.eml');
    await writeFile(file, data);
    await run('swaks', ['--server', `127.0.0.1:${inbox.smtpPort}`, '--from', 'alice@example.com', '--to', 'bob@example.com', '--pipeline', '--data', `@${file}`, '--silent', '2'], { timeout: 30_000 });
    const { detail, raw } = await stored('swaks');
    // swaks always writes a CRLF of its own before the terminating "." (its DATA is "<file>\r\n.\r\n")
    expect(raw.equals(Buffer.concat([data, Buffer.from('\r\n')]))).toBe(true);
    expect(detail.extensions).toContain('PIPELINING');
  });

  it("Python's smtplib (/usr/bin/python3)", async () => {
    const data = message('smtplib');
    const file = join(dir, 'smtplib.eml');
    await writeFile(file, data);
    const script = `import smtplib,sys\ns=smtplib.SMTP('127.0.0.1', ${inbox.smtpPort})\ns.sendmail('alice@example.com', ['bob@example.com'], open(sys.argv[1],'rb').read())\ns.quit()\n`;
    await run('/usr/bin/python3', ['-c', script, file], { timeout: 30_000 });
    const { detail, raw } = await stored('smtplib');
    expect(raw.equals(data)).toBe(true);
    expect(detail.envelope.via).toBe('DATA');
    const session = await getJson(inbox, `/api/sessions/${detail.sessionId}`);
    expect(session.transcript.find((l: { dir: string }) => l.dir === 'C').text).toMatch(/^ehlo /);
  });

  it('nodemailer (raw message, envelope given)', async () => {
    const data = message('nodemailer');
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: inbox.smtpPort, secure: false, ignoreTLS: true });
    await transport.sendMail({ envelope: { from: 'alice@example.com', to: ['bob@example.com'] }, raw: data });
    transport.close();
    const { detail, raw } = await stored('nodemailer');
    expect(raw.equals(data)).toBe(true);
    expect(detail.envelope.to).toEqual(['bob@example.com']);
  });
});

describe('sessions that produced no message are kept', () => {
  it('a session that only said EHLO and QUIT has a transcript', async () => {
    const child = spawn('swaks', ['--server', `127.0.0.1:${inbox.smtpPort}`, '--quit-after', 'EHLO', '--silent', '2']);
    await new Promise((r) => child.on('exit', r));
    const sessions = await getJson<Array<{ id: string; messages: string[]; helo: string | null }>>(inbox, '/api/sessions');
    const s = sessions.find((x) => x.messages.length === 0 && x.helo !== null);
    expect(s).toBeDefined();
    const detail = await getJson(inbox, `/api/sessions/${s!.id}`);
    expect(detail.transcript.map((l: { dir: string; text: string }) => `${l.dir}: ${l.text.split('\r\n')[0]}`)).toEqual(
      expect.arrayContaining(['S: 220 inbox.smtpkit.test ESMTP smtpkit inbox', expect.stringMatching(/^C: EHLO /), 'C: QUIT', expect.stringMatching(/^S: 221 /)]),
    );
  });
});

