import type { ConnectOptions, SendOptions, SendResult, Session } from './types.js';

/**
 * Connect with `connect`, send one message, QUIT: `sendMail` of each entry point, with that entry's
 * `connect` (`node:net` for the main entry, `cloudflare:sockets` for `@smtpkit/client/workers`).
 */
export async function sendMailWith(connect: (o: ConnectOptions) => Promise<Session>, options: ConnectOptions & SendOptions): Promise<SendResult> {
  const { from, to, data, size, smtputf8, eightBit, binary, dsn, requireTls, partial, overLimit, onProgress, onEndOfData, ...connectOptions } = options;
  const session = await connect(connectOptions);
  try {
    return await session.send({
      from,
      to,
      data,
      ...(size !== undefined ? { size } : {}),
      ...(smtputf8 !== undefined ? { smtputf8 } : {}),
      ...(eightBit !== undefined ? { eightBit } : {}),
      ...(binary !== undefined ? { binary } : {}),
      ...(dsn !== undefined ? { dsn } : {}),
      ...(requireTls !== undefined ? { requireTls } : {}),
      ...(partial !== undefined ? { partial } : {}),
      ...(overLimit !== undefined ? { overLimit } : {}),
      ...(onProgress !== undefined ? { onProgress } : {}),
      ...(onEndOfData !== undefined ? { onEndOfData } : {}),
    });
  } finally {
    await session.quit();
  }
}
