import { describe, expect, it } from 'vitest';
import { foldHeader, formatDate, guessContentType, MimeError } from '../src/index.js';

describe('foldHeader (RFC 5322 §2.2.3)', () => {
  it('keeps short fields on one line', () => {
    expect(foldHeader('Subject', 'hello')).toBe('Subject: hello\r\n');
  });

  it('folds before whitespace at 78 characters and unfolds to the same value', () => {
    const value = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    const out = foldHeader('X-Words', value);
    for (const line of out.split('\r\n').slice(0, -1)) expect(line.length).toBeLessThanOrEqual(78);
    expect(out.replace(/\r\n(?=[ \t])/g, '').replace(/\r\n$/, '')).toBe(`X-Words: ${value}`);
  });

  it('lets a long token have its own line but never exceeds 998 octets', () => {
    const long = 'x'.repeat(500);
    expect(foldHeader('X-Long', `a ${long} b`)).toBe(`X-Long: a\r\n ${long}\r\n b\r\n`);
    expect(() => foldHeader('X-Long', 'y'.repeat(1000))).toThrow(MimeError);
  });
});

describe('formatDate (RFC 5322 §3.3)', () => {
  it('writes UTC date-time', () => {
    expect(formatDate(new Date(Date.UTC(2026, 10, 3, 7, 5, 9)))).toBe('Tue, 3 Nov 2026 07:05:09 +0000');
  });
});

describe('guessContentType', () => {
  it.each([
    ['photo.JPG', 'image/jpeg'],
    ['a/b/logo.png', 'image/png'],
    ['report.pdf', 'application/pdf'],
    ['sheet.xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
    ['backup.tar.gz', 'application/gzip'],
    ['archive.zip', 'application/zip'],
    ['song.mp3', 'audio/mpeg'],
    ['clip.mp4', 'video/mp4'],
    ['invite.ics', 'text/calendar'],
    ['notes.txt', 'text/plain'],
    ['data.csv', 'text/csv'],
    ['README', 'application/octet-stream'],
    ['thing.unknownext', 'application/octet-stream'],
  ])('%s → %s', (name, type) => {
    expect(guessContentType(name)).toBe(type);
  });
});
