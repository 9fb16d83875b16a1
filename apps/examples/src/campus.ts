/**
 * Send through a campus Office 365 account: smtp.office365.com:587, STARTTLS required,
 * AUTH LOGIN with the password or XOAUTH2 with an access token, From = the mailbox.
 *
 *   smtpkit login microsoft --client-id ID --tenant campus.edu --account campus   (once)
 *   SMTPKIT_ACCOUNT=campus node dist/campus.js [-v]
 *   SMTPKIT_USER=me@campus.edu SMTPKIT_OAUTH_TOKEN=… node dist/campus.js [-v]     (a token from elsewhere)
 *
 * See provider.ts for every environment variable.
 */
import { fileURLToPath } from 'node:url';
import { runExample, type ProviderPreset } from './provider.js';

/** Office 365 submission (Microsoft: "SMTP AUTH client submission"). */
export const OFFICE365: ProviderPreset = {
  name: 'office365',
  host: 'smtp.office365.com',
  port: 587,
  tls: 'starttls',
  passwordMethod: 'LOGIN',
};

if (process.argv[1] === fileURLToPath(import.meta.url)) await runExample(OFFICE365, process.argv.slice(2));
