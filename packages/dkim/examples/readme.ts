import { buildMessage } from '@smtpkit/mime';
import { dnsRecord, dual, generateKey, signMessage, verify } from '@smtpkit/dkim';

const rsa = generateKey({ type: 'rsa', bits: 2048 }).privateKey; // keep these in files, 0600
const ed = generateKey({ type: 'ed25519' }).privateKey;
const message = buildMessage({ from: 'alice@example.com', to: 'bob@example.org', subject: 'Signed', text: 'Hi Bob', signing: true });
const signed = await signMessage(message, {
  signers: dual({ domain: 'example.com', rsa: { selector: 'r2026', privateKey: rsa }, ed25519: { selector: 'e2026', privateKey: ed } }),
});
// Publish these TXT records; hand `signed` to @smtpkit/client: session.send({ ...message.envelope, data: signed, size: signed.size })
const keys = { 'r2026._domainkey.example.com': dnsRecord(rsa).value, 'e2026._domainkey.example.com': dnsRecord(ed).value };
console.log(signed.signatures);
console.log((await verify(await signed.toBuffer(), { keys })).map((r) => `${r.selector}: ${r.status}`));
