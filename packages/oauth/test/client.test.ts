import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TranscriptEvent } from '@smtpkit/client';
import {
  generateCertificates, runScriptedBrowser, startAiosmtpd, startDovecot, startOidcProvider,
  type AiosmtpdServer, type DovecotServer, type OidcProviderServer, type TestCertificates,
} from '@smtpkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountTokenProvider, discoverProvider, login } from '../src/index.js';

// The README's use: accountTokenProvider(name) as auth.accessToken of @smtpkit/client, against Dovecot's
// submission service checking each token at oidc-provider by introspection (RFC 7662).

let op: OidcProviderServer;
let relay: AiosmtpdServer;
let dovecot: DovecotServer;
let certs: TestCertificates;
const env: NodeJS.ProcessEnv = {};

beforeAll(async () => {
  certs = await generateCertificates();
  op = await startOidcProvider({ accessTokenTtl: 600 });
  relay = await startAiosmtpd();
  dovecot = await startDovecot({
    submission: { relayPort: relay.port },
    certs,
    oauth2: { introspectionUrl: op.introspection.url, clientId: op.introspection.clientId, clientSecret: op.introspection.clientSecret },
  });
  const dir = mkdtempSync(join(tmpdir(), 'smtpkit-oauth-client-'));
  Object.assign(env, { XDG_CONFIG_HOME: join(dir, 'config'), XDG_STATE_HOME: join(dir, 'state') });
  await login({
    env,
    provider: await discoverProvider(op.issuer, { clientId: op.clientId }),
    flow: 'browser',
    store: 'file',
    account: 'work',
    canOpenBrowser: true,
    io: {
      notify: () => undefined,
      openBrowser: async (url) => {
        void runScriptedBrowser(url, { login: 'me@example.edu' });
        return true;
      },
    },
  });
});

afterAll(async () => {
  await dovecot?.stop();
  await relay?.stop();
  await op?.stop();
});

async function sendOnce(subject: string, transcript: TranscriptEvent[]): Promise<number> {
  const session = await connect({
    host: '127.0.0.1', port: dovecot.submissionPort!, tls: 'starttls', ca: certs.caCert, servername: 'localhost',
    auth: { user: 'me@example.edu', method: 'XOAUTH2', accessToken: accountTokenProvider('work', { env }) },
    onTranscript: (e) => transcript.push(e),
  });
  const result = await session.send({ from: 'me@example.edu', to: ['you@example.org'], data: `Subject: ${subject}\r\n\r\nhello\r\n` });
  await session.quit();
  return result.reply.code;
}

describe('accountTokenProvider with @smtpkit/client', () => {
  it('authenticates with the stored token (no refresh while it is fresh)', async () => {
    const before = op.refreshCount();
    expect(await sendOnce('stored token', [])).toBe(250);
    expect(op.refreshCount()).toBe(before);
    expect((await relay.waitForMessages(1))[0]!.raw.toString()).toContain('Subject: stored token');
  });

  it('a token the server refuses although it looks fresh is refreshed once, and the send goes through', async () => {
    const file = join(env.XDG_STATE_HOME!, 'smtpkit', 'tokens', 'work.json');
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { accessToken: string; refreshToken: string };
    // Revoked at the provider: Dovecot's introspection now says inactive, the store still says valid.
    await op.revoke(stored.accessToken, 'access_token');
    const before = op.refreshCount();
    const transcript: TranscriptEvent[] = [];
    expect(await sendOnce('after a refusal', transcript)).toBe(250);
    expect(op.refreshCount()).toBe(before + 1);
    expect(transcript.map((e) => e.text).join('\n')).toMatch(/rejected the token; asking for a fresh one/);
    const after = JSON.parse(readFileSync(file, 'utf8')) as { accessToken: string; refreshToken: string };
    expect(after.refreshToken).not.toBe(stored.refreshToken);
    for (const e of transcript) {
      expect(e.text).not.toContain(stored.accessToken);
      expect(e.text).not.toContain(after.accessToken);
    }
  });
});
