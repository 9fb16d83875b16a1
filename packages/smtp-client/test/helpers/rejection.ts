import { expect } from 'vitest';
import { isSmtpError, type SmtpError } from '@smtpkit/wire';

/** Awaits `p`, which must reject with an SmtpError, and returns that error for further assertions. */
export async function rejection(p: Promise<unknown>): Promise<SmtpError> {
  const e = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
  expect(isSmtpError(e)).toBe(true);
  return e as SmtpError;
}
