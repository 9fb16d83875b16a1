import { describe, expect, it } from 'vitest';
import { chooseMechanism, encodeCramMd5, encodeOauthBearer, encodePlain, encodeXoauth2 } from '../src/auth.js';

const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');

describe('SASL encoders', () => {
  it('PLAIN: NUL authcid NUL passwd (RFC 4616 §2)', () => {
    expect(decode(encodePlain('tim', 'tanstaaftanstaaf'))).toBe('\0tim\0tanstaaftanstaaf');
  });

  it('CRAM-MD5: the RFC 2195 §2 example', () => {
    const challenge = '<1896.697170952@postoffice.reston.mci.net>';
    expect(decode(encodeCramMd5('tim', 'tanstaaftanstaaf', challenge))).toBe('tim b913a602c7eda7a495b4e6e7334d3890');
  });

  it('XOAUTH2: user=…^Aauth=Bearer …^A^A', () => {
    expect(decode(encodeXoauth2('someuser@example.com', 'ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg'))).toBe(
      'user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01',
    );
  });

  it('OAUTHBEARER: the RFC 7628 §4.1 example, with "," and "=" escaped in the authzid', () => {
    expect(decode(encodeOauthBearer('user@example.com', 'vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==', 'server.example.com', 143))).toBe(
      'n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01',
    );
    expect(decode(encodeOauthBearer('a,b=c', 't', 'h', 1))).toMatch(/^n,a=a=2Cb=3Dc,/);
  });
});

describe('chooseMechanism', () => {
  it.each([
    [['PLAIN', 'LOGIN', 'CRAM-MD5'], { user: 'u', pass: 'p' }, 'CRAM-MD5'],
    [['LOGIN', 'PLAIN'], { user: 'u', pass: 'p' }, 'PLAIN'],
    [['LOGIN', 'XOAUTH2'], { user: 'u', pass: 'p' }, 'LOGIN'],
    [['PLAIN', 'XOAUTH2', 'OAUTHBEARER'], { user: 'u', accessToken: 't' }, 'XOAUTH2'],
    [['PLAIN', 'OAUTHBEARER'], { user: 'u', accessToken: 't' }, 'OAUTHBEARER'],
    [['PLAIN'], { user: 'u', accessToken: 't' }, undefined],
    [['PLAIN'], { user: 'u', pass: 'p', method: 'LOGIN' as const }, 'LOGIN'],
  ])('%j with %j → %s', (offered, auth, expected) => {
    expect(chooseMechanism(offered, auth)).toBe(expected);
  });
});
