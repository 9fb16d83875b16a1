/** RFC 5322 §2.1.1: a line is at most 998 octets, excluding the CRLF. */
export const MAX_LINE_LENGTH = 998;
/** RFC 5322 §2.1.1: lines SHOULD be at most 78 octets, excluding the CRLF. */
export const FOLD_LENGTH = 78;
/** RFC 2047 §2: an encoded word is at most 75 characters. */
export const MAX_ENCODED_WORD_LENGTH = 75;
/** RFC 2045 §6.7 (5) and §6.8: encoded lines are at most 76 characters. */
export const ENCODED_LINE_LENGTH = 76;
/** RFC 2046 §5.1.1: a boundary is 1 to 70 characters. */
export const MAX_BOUNDARY_LENGTH = 70;
