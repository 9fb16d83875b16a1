/** RFC 8301 §3.2: verifiers must accept 1024-bit RSA keys and signers should use at least 2048 bits. */
export const MIN_RSA_BITS = 1024;
export const RECOMMENDED_RSA_BITS = 2048;

/** RFC 6376 §3.6.2.2: one TXT character-string holds at most 255 octets. */
export const TXT_STRING_LENGTH = 255;

/** Header lines of the DKIM-Signature field are folded before this width (RFC 5322 §2.1.1 recommends 78). */
export const SIGNATURE_LINE_WIDTH = 76;

/** Largest header section a signer keeps while hashing (the body is never kept). */
export const DEFAULT_MAX_HEADER_SIZE = 1024 * 1024;

/**
 * RFC 6376 §5.4.1: the fields a signer should sign, plus List-Unsubscribe-Post (RFC 8058 §4: the
 * one-click POST must be covered by the signature), Message-ID, Sender and the MIME fields that
 * describe the body.
 */
export const DEFAULT_SIGNED_HEADERS: readonly string[] = [
  'From', 'Reply-To', 'Subject', 'Date', 'To', 'Cc',
  'Resent-Date', 'Resent-From', 'Resent-Sender', 'Resent-To', 'Resent-Cc',
  'In-Reply-To', 'References',
  'List-Id', 'List-Help', 'List-Unsubscribe', 'List-Subscribe', 'List-Post', 'List-Owner', 'List-Archive',
  'List-Unsubscribe-Post',
  'Message-ID', 'Sender', 'MIME-Version', 'Content-Type', 'Content-Transfer-Encoding',
];

/** RFC 6376 §5.4: fields that relays add or remove on the way; signing them breaks the signature. */
export const NEVER_SIGNED: readonly string[] = ['return-path', 'received', 'bcc', 'dkim-signature'];
