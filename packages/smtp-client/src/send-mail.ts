import { connect } from './connect.js';
import type { ConnectOptions, SendOptions, SendResult } from './types.js';

/**
 * Connect, send one message, QUIT. The result stands once the server's final 2xx has arrived,
 * whatever happens to the QUIT after it.
 *
 * @example
 * ```ts
 * await sendMail({ host: '127.0.0.1', port: 1025, tls: 'none',
 *   from: 'a@example.com', to: ['b@example.com'], data: 'Subject: hi\r\n\r\nhello\r\n' });
 * ```
 */
export async function sendMail(options: ConnectOptions & SendOptions): Promise<SendResult> {
  const { from, to, data, size, smtputf8, eightBit, binary, dsn, requireTls, partial, onProgress, onEndOfData, ...connectOptions } = options;
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
      ...(onProgress !== undefined ? { onProgress } : {}),
      ...(onEndOfData !== undefined ? { onEndOfData } : {}),
    });
  } finally {
    await session.quit();
  }
}
