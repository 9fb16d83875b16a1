import { describe, expect, it } from 'vitest';
import { heloCapabilities, parseEhlo } from '../src/capabilities.js';
import type { Capabilities } from '../src/capabilities.js';
import { ReplyParser, parseReply } from '../src/reply-parser.js';
import type { Reply } from '../src/reply.js';
import { EXIM, GMAIL_PLAIN, GMAIL_TLS, OFFICE365_PLAIN, OFFICE365_TLS, POSTFIX, POSTFIX_LOCAL, SMTP_SINK } from './fixtures/ehlo-replies.js';
import { bytes, splitsInTwo } from './support.js';

type Flags = Pick<
  Capabilities,
  'domain' | 'pipelining' | 'chunking' | 'binaryMime' | 'eightBitMime' | 'smtputf8' | 'starttls' | 'dsn' | 'enhancedStatusCodes' | 'requireTls' | 'size' | 'auth'
>;

const none: Omit<Flags, 'domain'> = {
  pipelining: false, chunking: false, binaryMime: false, eightBitMime: false, smtputf8: false, starttls: false,
  dsn: false, enhancedStatusCodes: false, requireTls: false, size: undefined, auth: [],
};

const cases: Array<{ name: string; text: string; expected: Flags; extra: Record<string, string[]> }> = [
  {
    name: 'Postfix',
    text: POSTFIX,
    expected: { ...none, domain: 'mail.example.com', pipelining: true, size: 10240000, starttls: true, auth: ['PLAIN', 'LOGIN'], enhancedStatusCodes: true, eightBitMime: true, dsn: true, smtputf8: true, chunking: true },
    extra: { VRFY: [], ETRN: [], 'AUTH=PLAIN': ['LOGIN'] },
  },
  {
    name: 'Postfix 3.7 (captured locally)',
    text: POSTFIX_LOCAL,
    expected: { ...none, domain: 'localhost', pipelining: true, size: 10240000, enhancedStatusCodes: true, eightBitMime: true, dsn: true, smtputf8: true, chunking: true },
    extra: { VRFY: [], ETRN: [] },
  },
  {
    name: 'Postfix smtp-sink (captured; ends with an empty line)',
    text: SMTP_SINK,
    expected: { ...none, domain: 'smtp-sink', pipelining: true, eightBitMime: true, auth: ['PLAIN', 'LOGIN'], enhancedStatusCodes: true, dsn: true },
    extra: { XCLIENT: ['NAME', 'HELO'], XFORWARD: ['NAME', 'ADDR', 'PROTO', 'HELO'] },
  },
  {
    name: 'Exim',
    text: EXIM,
    expected: { ...none, domain: 'mx.example.org', size: 52428800, eightBitMime: true, pipelining: true, auth: ['PLAIN', 'LOGIN', 'CRAM-MD5'], chunking: true, starttls: true },
    extra: { PIPECONNECT: [], PRDR: [], HELP: [] },
  },
  {
    name: 'Gmail smtp.gmail.com:587 before STARTTLS',
    text: GMAIL_PLAIN,
    expected: { ...none, domain: 'smtp.gmail.com', size: 35882577, eightBitMime: true, starttls: true, enhancedStatusCodes: true, pipelining: true, chunking: true, smtputf8: true },
    extra: {},
  },
  {
    name: 'Gmail smtp.gmail.com:587 after STARTTLS',
    text: GMAIL_TLS,
    expected: { ...none, domain: 'smtp.gmail.com', size: 35882577, eightBitMime: true, auth: ['LOGIN', 'PLAIN', 'XOAUTH2', 'PLAIN-CLIENTTOKEN', 'OAUTHBEARER', 'XOAUTH'], enhancedStatusCodes: true, pipelining: true, chunking: true, smtputf8: true },
    extra: {},
  },
  {
    name: 'Office 365 smtp.office365.com:587 before STARTTLS',
    text: OFFICE365_PLAIN,
    expected: { ...none, domain: 'AM0PR02CA0001.outlook.office365.com', size: 157286400, pipelining: true, dsn: true, enhancedStatusCodes: true, starttls: true, eightBitMime: true, binaryMime: true, chunking: true, smtputf8: true },
    extra: {},
  },
  {
    name: 'Office 365 smtp.office365.com:587 after STARTTLS',
    text: OFFICE365_TLS,
    expected: { ...none, domain: 'AM0PR02CA0001.outlook.office365.com', size: 157286400, pipelining: true, dsn: true, enhancedStatusCodes: true, auth: ['LOGIN', 'XOAUTH2'], eightBitMime: true, binaryMime: true, chunking: true, smtputf8: true },
    extra: {},
  },
];

function flags(c: Capabilities): Flags {
  const { domain, pipelining, chunking, binaryMime, eightBitMime, smtputf8, starttls, dsn, enhancedStatusCodes, requireTls, size, auth } = c;
  return { domain, pipelining, chunking, binaryMime, eightBitMime, smtputf8, starttls, dsn, enhancedStatusCodes, requireTls, size, auth };
}

function parseSplit(parts: Uint8Array[]): Reply {
  const parser = new ReplyParser();
  const replies = parts.flatMap((p) => parser.push(p));
  expect(replies).toHaveLength(1);
  return replies[0] as Reply;
}

describe('parseEhlo: real server replies', () => {
  it.each(cases)('$name', ({ text, expected, extra }) => {
    const input = bytes(text);
    for (const [, parts] of splitsInTwo(input)) {
      const caps = parseEhlo(parseSplit(parts));
      expect(flags(caps)).toEqual(expected);
      for (const [k, v] of Object.entries(extra)) {
        expect(caps.has(k)).toBe(true);
        expect(caps.keywords.get(k)).toEqual(v);
      }
    }
  });
});

describe('parseEhlo: details', () => {
  it('keeps unknown keywords with their parameters, case-insensitively', () => {
    const caps = parseEhlo(parseReply('250-mx\r\n250-x-Custom a B\r\n250-xclient NAME ADDR\r\n250 requiretls\r\n'));
    expect(caps.keywords.get('X-CUSTOM')).toEqual(['a', 'B']);
    expect(caps.has('xclient')).toBe(true);
    expect(caps.has('XCLIENT')).toBe(true);
    expect(caps.has('VRFY')).toBe(false);
    expect(caps.requireTls).toBe(true);
  });

  it('reads SIZE with no parameter, 0, or garbage as 0 (no fixed limit, RFC 1870 §4)', () => {
    expect(parseEhlo(parseReply('250-mx\r\n250 SIZE\r\n')).size).toBe(0);
    expect(parseEhlo(parseReply('250-mx\r\n250 SIZE 0\r\n')).size).toBe(0);
    expect(parseEhlo(parseReply('250-mx\r\n250 SIZE lots\r\n')).size).toBe(0);
    expect(parseEhlo(parseReply('250 mx\r\n')).size).toBeUndefined();
  });

  it('merges AUTH and legacy AUTH= mechanisms, upper-cased and without duplicates', () => {
    const caps = parseEhlo(parseReply('250-mx\r\n250-AUTH=login\r\n250-AUTH plain LOGIN\r\n250 AUTH CRAM-MD5 plain\r\n'));
    expect(caps.auth).toEqual(['LOGIN', 'PLAIN', 'CRAM-MD5']);
    expect(caps.keywords.get('AUTH')).toEqual(['plain', 'LOGIN', 'CRAM-MD5']);
  });

  it('ignores blank lines and extra whitespace', () => {
    const caps = parseEhlo(parseReply('250-mx.example  greets you\r\n250-\r\n250-  PIPELINING  \r\n250 SIZE\t1000\r\n'));
    expect(caps.domain).toBe('mx.example');
    expect(caps.pipelining).toBe(true);
    expect(caps.size).toBe(1000);
  });

  it('a single-line EHLO reply offers nothing', () => {
    expect(flags(parseEhlo(parseReply('250 mx.example.com\r\n')))).toEqual({ ...none, domain: 'mx.example.com' });
  });

  it('is immutable', () => {
    const caps = parseEhlo(parseReply(POSTFIX));
    expect(Object.isFrozen(caps)).toBe(true);
    expect(Object.isFrozen(caps.auth)).toBe(true);
  });
});

describe('heloCapabilities', () => {
  it('offers no extension even if the text looks like keywords', () => {
    const caps = heloCapabilities(parseReply('250-mx.example.com\r\n250 PIPELINING\r\n'));
    expect(flags(caps)).toEqual({ ...none, domain: 'mx.example.com' });
    expect(caps.has('PIPELINING')).toBe(false);
    expect(caps.keywords.size).toBe(0);
  });

  it('copes with an empty reply text', () => {
    expect(heloCapabilities(parseReply('250\r\n')).domain).toBe('');
  });
});
