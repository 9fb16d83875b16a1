import { SmtpSession, type SendReceiver } from '../session.js';
import type { SendOptions, Session } from '../types.js';
import { BodyWatch, watched } from './retry.js';

/**
 * Hand a send to a session; `receiver` hears once how it ended, with how far its body got. A session of
 * this package reports that itself; any other (from a custom `connectFn`) is followed through the send's hooks.
 */
export function submit<T>(session: Session, options: SendOptions, receiver: SendReceiver<T>, token: T): void {
  if (session instanceof SmtpSession) {
    session.submit(options, receiver, token);
    return;
  }
  const watch = new BodyWatch();
  session.send(watched(options, watch)).then(
    (result) => receiver.sendDone(token, undefined, result, watch),
    (error: unknown) => receiver.sendDone(token, error, undefined, watch),
  );
}
