// Signed messages through a real Postfix smtpd: what Postfix stores still verifies (DATA with
// dot-stuffing, and BDAT), and a message source that changes between the signing pass and the sending
// pass makes the client stop before the end of data, so Postfix keeps nothing.
import { Buffer } from 'node:buffer';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@smtpkit/client';
import type { TranscriptEvent } from '@smtpkit/client';
import { buildMessage } from '@smtpkit/mime';
import { startPostfix } from '@smtpkit/testkit';
import type { PostfixServer } from '@smtpkit/testkit';
import { dnsRecord, dual, generateKey, signMessage, verify } from '@smtpkit/dkim';
import type { DkimSignerOptions } from '@smtpkit/dkim';
import { verifyWithDkimpy, verifyWithMailauth, verifyWithMailDkim, verifyWithOpendkim } from './verifiers.js';

const rsa = generateKey({ type: 'rsa', bits: 2048 }).privateKey;
const ed = generateKey({ type: 'ed25519' }).privateKey;
const records = {
  'rsa._domainkey.example.com': dnsRecord(rsa).value,
  'ed._domainkey.example.com': dnsRecord(ed).value,
};
const signers: DkimSignerOptions[] = dual({ domain: 'example.com', rsa: { selector: 'rsa', privateKey: rsa }, ed25519: { selector: 'ed', privateKey: ed } });

/** A text with lines DATA must dot-stuff, and a 1 MiB attachment opened afresh for each pass. */
function message(subject: string) {
  const blob = Buffer.alloc(1 << 20);
  for (let i = 0; i < blob.length; i++) blob[i] = (i * 31 + 7) & 0xff;
  return buildMessage({
    from: 'Alice <alice@example.com>',
    to: 'bob@example.net',
    subject,
    text: 'Line one.\n.\n..two dots\n.leading dot\nGrüße, the end.',
    attachments: [{ filename: 'blob.bin', content: () => [blob.subarray(0, 1000), blob.subarray(1000)], size: blob.length }],
    signing: true,
  });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'smtpkit-dkim-postfix-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.each([
  ['DATA (no CHUNKING, dot-stuffed)', false],
  ['BDAT (CHUNKING)', true],
])('through Postfix smtpd: %s', (_name, chunking) => {
  let postfix: PostfixServer;
  beforeAll(async () => {
    postfix = await startPostfix({ chunking });
  }, 60_000);
  afterAll(async () => {
    await postfix?.stop();
  });

  it('the stored message verifies with dkimpy, mailauth, Mail::DKIM, opendkim -t and verify()', async () => {
    const m = message(`signed via ${chunking ? 'BDAT' : 'DATA'}`);
    const signed = await signMessage(m, { signers });
    const events: TranscriptEvent[] = [];
    const session = await connect({ host: '127.0.0.1', port: postfix.port, tls: 'none', onTranscript: (e) => events.push(e) });
    expect(session.capabilities.chunking).toBe(chunking);
    const result = await session.send({ ...m.envelope, data: signed, size: signed.size });
    await session.quit();
    expect(result.reply.code).toBe(250);
    expect(events.some((e) => e.text.startsWith(chunking ? 'BDAT' : 'DATA'))).toBe(true);
    const [stored] = await postfix.waitForMessages(1);
    const raw = (stored as { raw: Buffer }).raw;
    // Postfix prepended its own fields (Return-Path, Received …); the signatures still cover the rest.
    expect(raw.toString('latin1')).toMatch(/^Return-Path: /);
    const file = join(dir, `stored-${chunking}.eml`);
    writeFileSync(file, raw);
    expect((await verify(raw, { keys: records })).map((r) => r.status)).toEqual(['pass', 'pass']);
    expect(await verifyWithDkimpy([file], records)).toEqual([[true, true]]);
    expect(await verifyWithMailauth(raw, records)).toEqual([true, true]);
    expect((await verifyWithMailDkim([file], records))[0]?.[0]).toBe(true);
    expect(await verifyWithOpendkim([file], records, dir)).toEqual([true]);
  });

  it('a source that changes between the passes: the send fails before the end of data and nothing is stored', async () => {
    let pass = 0;
    const m = buildMessage({
      from: 'alice@example.com',
      to: 'bob@example.net',
      subject: 'changing',
      text: 'body',
      attachments: [
        {
          filename: 'changes.bin',
          content: () => {
            pass++;
            return [Buffer.alloc(300_000, pass === 1 ? 0x41 : 0x42)];
          },
          size: 300_000,
        },
      ],
      signing: true,
    });
    const before = (await postfix.messages()).length;
    const signed = await signMessage(m, { signers });
    const events: TranscriptEvent[] = [];
    const session = await connect({ host: '127.0.0.1', port: postfix.port, tls: 'none', onTranscript: (e) => events.push(e) });
    await expect(session.send({ ...m.envelope, data: signed, size: signed.size })).rejects.toMatchObject({
      name: 'SmtpError',
      cause: expect.objectContaining({ code: 'ERR_DKIM_SOURCE_CHANGED' }),
    });
    session.destroy();
    // No end of data went out: neither "<CRLF>.<CRLF>" (DATA) nor BDAT … LAST.
    expect(events.some((e) => e.dir === 'C' && /^<message \d+ bytes>$/.test(e.text))).toBe(false);
    expect(events.some((e) => e.dir === 'C' && /^BDAT \d+ LAST/.test(e.text))).toBe(false);
    // Give Postfix time to have queued anything, then check it kept nothing.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await postfix.messages()).length).toBe(before);
    // Postfix saw the connection drop mid-transaction (with BDAT, before a whole chunk had gone out).
    expect(await postfix.log()).toMatch(chunking ? /lost connection after (BDAT|RCPT)/ : /lost connection after DATA/);
  });
});
