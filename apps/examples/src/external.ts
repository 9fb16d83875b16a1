/**
 * Send through Gmail (smtp.gmail.com:587, STARTTLS) or AOL (smtp.aol.com:465, TLS from the first
 * byte) with an app password or an XOAUTH2 access token.
 *
 *   smtpkit login google --client-file client_secret.json --account gmail   (once)
 *   SMTPKIT_ACCOUNT=gmail node dist/external.js gmail [-v]
 *   SMTPKIT_USER=me@gmail.com SMTPKIT_PASSWORD=<app password> node dist/external.js gmail [-v]
 *   SMTPKIT_USER=me@aol.com   SMTPKIT_PASSWORD=<app password> node dist/external.js aol [-v]
 *
 * See provider.ts for every environment variable.
 */
import { fileURLToPath } from 'node:url';
import { runExample, type ProviderPreset } from './provider.js';

/** The providers this example knows. */
export const PROVIDERS: Readonly<Record<string, ProviderPreset>> = {
  gmail: { name: 'gmail', host: 'smtp.gmail.com', port: 587, tls: 'starttls' },
  aol: { name: 'aol', host: 'smtp.aol.com', port: 465, tls: 'implicit' },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const name = process.argv[2];
  const preset = name ? PROVIDERS[name] : undefined;
  if (!preset) {
    process.stderr.write(`usage: node dist/external.js ${Object.keys(PROVIDERS).join('|')} [-v]\n`);
    process.exitCode = 64;
  } else {
    await runExample(preset, process.argv.slice(3));
  }
}
