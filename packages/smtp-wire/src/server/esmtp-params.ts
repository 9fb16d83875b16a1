import { readXtext } from './command-parser.js';

/** Why a MAIL or RCPT parameter is refused: `unknown` (555, not offered) or malformed (501). */
export interface ParamProblem {
  unknown?: boolean;
  reason: string;
}

/** The extensions whose MAIL parameters a session offers. */
export interface OfferedParams {
  eightBitMime?: boolean;
  chunking?: boolean;
  smtputf8?: boolean;
  dsn?: boolean;
  auth?: unknown;
}

/** Checks one MAIL FROM parameter (RFC 1870, 6152, 3030, 6531, 3461, 4954 §5) against what was offered. */
export function mailParamProblem(key: string, value: string, o: OfferedParams): ParamProblem | undefined {
  switch (key) {
    case 'SIZE':
      return /^\d{1,20}$/.test(value) ? undefined : { reason: 'SIZE needs a number (RFC 1870 §6)' };
    case 'BODY': {
      const v = value.toUpperCase();
      if (v === '7BIT' || (v === '8BITMIME' && o.eightBitMime !== false) || (v === 'BINARYMIME' && o.chunking !== false)) return undefined;
      return { unknown: true, reason: `BODY=${value} not supported` };
    }
    case 'SMTPUTF8':
      return o.smtputf8 === false ? { unknown: true, reason: 'SMTPUTF8 not offered' } : value === '' ? undefined : { reason: 'SMTPUTF8 takes no value' };
    case 'RET':
      if (o.dsn === false) return { unknown: true, reason: 'DSN not offered' };
      return /^(FULL|HDRS)$/i.test(value) ? undefined : { reason: 'RET must be FULL or HDRS (RFC 3461 §4.3)' };
    case 'ENVID':
      if (o.dsn === false) return { unknown: true, reason: 'DSN not offered' };
      return readXtext(value) !== undefined && value !== '' ? undefined : { reason: 'ENVID must be xtext (RFC 3461 §4.4)' };
    case 'AUTH':
      // RFC 4954 §5: accepted, and not trusted.
      return o.auth ? undefined : { unknown: true, reason: 'AUTH not offered' };
    default:
      return { unknown: true, reason: `unknown MAIL parameter ${key}` };
  }
}

/** Checks one RCPT TO parameter (RFC 3461 §4.1, §4.2). */
export function rcptParamProblem(key: string, value: string, dsn: boolean): ParamProblem | undefined {
  if ((key === 'NOTIFY' || key === 'ORCPT') && !dsn) return { unknown: true, reason: 'DSN not offered' };
  if (key === 'NOTIFY') {
    const list = value.toUpperCase().split(',');
    const ok = (list.length === 1 && list[0] === 'NEVER') || list.every((v) => v === 'SUCCESS' || v === 'FAILURE' || v === 'DELAY');
    return ok ? undefined : { reason: 'NOTIFY must be NEVER or SUCCESS,FAILURE,DELAY (RFC 3461 §4.1)' };
  }
  if (key === 'ORCPT') {
    return /^[A-Za-z0-9-]+;.+$/.test(value) && readXtext(value) !== undefined ? undefined : { reason: 'ORCPT must be addr-type;xtext (RFC 3461 §4.2)' };
  }
  return { unknown: true, reason: `unknown RCPT parameter ${key}` };
}
