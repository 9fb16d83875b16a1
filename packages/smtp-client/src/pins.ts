import { SmtpError } from '@smtpkit/wire';

/** Normalise pins to upper-case hex without separators; reject anything that is not a SHA-256. */
export function normalizePins(pin: string | string[] | undefined): string[] | undefined {
  if (pin === undefined) return undefined;
  const list = Array.isArray(pin) ? pin : [pin];
  return list.map((p) => {
    const hex = p.replace(/[:\s]/g, '').toUpperCase();
    if (!/^[0-9A-F]{64}$/.test(hex)) {
      throw new SmtpError('pin must be a SHA-256 fingerprint: 64 hex digits, with or without ":"', {
        kind: 'input',
        code: 'ERR_SMTP_INPUT',
      });
    }
    return hex;
  });
}
