import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPrivateKey, verify } from '@smtpkit/dkim';
import { createBodyCanonicalizer } from '../src/canonicalize.js';
import type { Canonicalization } from '../src/canonicalize.js';
import { HeaderSplitter, parseHeaderFields } from '../src/header-section.js';
import { selectFields } from '../src/select-headers.js';
import { parseTagList, withoutSignatureValue } from '../src/signature-header.js';
import { headerHashInput, signData } from '../src/signer.js';
import { ED25519_SEED, KEYS, RSA_PRIVATE_KEY, SIGNED_MESSAGE } from './fixtures/rfc8463.js';
import { PYTHON } from './verifiers.js';
import { createHash } from 'node:crypto';

/** dkimpy's own test data, read from the installed Debian package (python3-dkim). */
function dkimpyTestData(name: string): Buffer {
  const found = spawnSync(PYTHON, ['-c', 'import dkim, os; print(os.path.dirname(dkim.__file__))'], { encoding: 'utf8' });
  if (found.status !== 0) throw new Error(`python3-dkim is not installed: ${found.stderr}`);
  return readFileSync(join(found.stdout.trim(), 'tests', 'data', name));
}

/**
 * Recomputes every signature of a signed message with our canonicalization, hashing and signing, and
 * returns [published b=, recomputed b=, published bh=, recomputed bh=] per signature.
 */
function recompute(message: Buffer, keyFor: (selector: string) => string): Array<{ selector: string; b: [string, string]; bh: [string, string] }> {
  const splitter = new HeaderSplitter(1 << 20);
  const body = splitter.push(message);
  splitter.end();
  const fields = parseHeaderFields(splitter.head);
  return fields
    .filter((f) => f.name === 'dkim-signature')
    .map((sig) => {
      const tags = parseTagList(sig.raw.slice(sig.raw.indexOf(':') + 1));
      const [hc, bc] = (tags.get('c') as string).split('/') as [Canonicalization, Canonicalization];
      const hash = createHash('sha256');
      const canon = createBodyCanonicalizer(bc, hash);
      canon.push(body);
      canon.end();
      const names = (tags.get('h') as string).split(':').map((n) => n.trim());
      const data = headerHashInput(selectFields(names, fields), withoutSignatureValue(sig.raw), hc);
      const key = loadPrivateKey(keyFor(tags.get('s') as string), { onWeakKey: () => undefined });
      return {
        selector: tags.get('s') as string,
        b: [(tags.get('b') as string).replace(/\s+/g, ''), signData(key, data).toString('base64')],
        bh: [tags.get('bh') as string, hash.digest('base64')],
      };
    });
}

const keyFor = (selector: string): string => (selector === 'brisbane' ? ED25519_SEED : RSA_PRIVATE_KEY);

describe('golden vectors: our canonicalization and signing reproduce published signatures byte for byte', () => {
  it('RFC 8463 Appendix A (relaxed/relaxed): the Ed25519 and the RSA b= values', () => {
    const rows = recompute(Buffer.from(SIGNED_MESSAGE, 'latin1'), keyFor);
    expect(rows.map((r) => r.selector)).toEqual(['brisbane', 'test']);
    for (const r of rows) {
      expect(r.bh[1]).toBe(r.bh[0]);
      expect(r.b[1]).toBe(r.b[0]);
    }
  });

  it("dkimpy's rfc6376.signed.msg (simple/simple): the Ed25519 and the RSA b= values", () => {
    const message = dkimpyTestData('rfc6376.signed.msg');
    // The file is stored with LF line ends; the message on the wire has CRLF.
    const crlf = Buffer.from(message.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
    const rows = recompute(crlf, keyFor);
    expect(rows.map((r) => r.selector)).toEqual(['brisbane', 'test']);
    for (const r of rows) {
      expect(r.bh[1]).toBe(r.bh[0]);
      expect(r.b[1]).toBe(r.b[0]);
    }
    // The RSA key there is dkimpy's test.private, the same key as RFC 8463 §A.1.
    expect(dkimpyTestData('test.private').toString('latin1').trim()).toBe(RSA_PRIVATE_KEY.trim());
    expect(dkimpyTestData('rfc8032_7_1.key').toString('latin1').trim()).toBe(ED25519_SEED);
  });

  it('verify() passes both RFC 8463 signatures with the published records, and fails them after an edit', async () => {
    const results = await verify(SIGNED_MESSAGE, { keys: KEYS });
    expect(results.map((r) => [r.selector, r.status])).toEqual([
      ['brisbane', 'pass'],
      ['test', 'pass'],
    ]);
    const edited = SIGNED_MESSAGE.replace('Is dinner ready?', 'Is dinner ready!');
    expect((await verify(edited, { keys: KEYS })).map((r) => r.status)).toEqual(['fail', 'fail']);
  });

  it("verify() passes dkimpy's simple/simple signatures", async () => {
    const message = dkimpyTestData('rfc6376.signed.msg');
    const results = await verify(message, { keys: KEYS });
    expect(results.map((r) => r.status)).toEqual(['pass', 'pass']);
  });
});
