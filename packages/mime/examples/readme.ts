import { buildMessage } from '@smtpkit/mime';

const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
const message = buildMessage(
  { from: 'Zoë <zoe@example.com>', to: ['bob@example.org'], bcc: ['audit@example.net'], subject: 'Grüße from the lab',
    text: 'The picture is attached.', attachments: [{ filename: 'dot.png', content: png }] },
  { seed: 'readme' }, // deterministic boundaries, Message-ID and Date; omit in production
);
console.log(await message.toString());
console.log(message.envelope, message.size);
