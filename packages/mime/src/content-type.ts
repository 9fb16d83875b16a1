const TYPES: Record<string, string> = {
  // images
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', jpe: 'image/jpeg', gif: 'image/gif', webp: 'image/webp',
  svg: 'image/svg+xml', bmp: 'image/bmp', ico: 'image/vnd.microsoft.icon', tif: 'image/tiff', tiff: 'image/tiff',
  avif: 'image/avif', heic: 'image/heic', heif: 'image/heif', jxl: 'image/jxl',
  // documents
  pdf: 'application/pdf', rtf: 'application/rtf', doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel', xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint', pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  odt: 'application/vnd.oasis.opendocument.text', ods: 'application/vnd.oasis.opendocument.spreadsheet',
  odp: 'application/vnd.oasis.opendocument.presentation', epub: 'application/epub+zip',
  // archives
  zip: 'application/zip', gz: 'application/gzip', tgz: 'application/gzip', tar: 'application/x-tar',
  bz2: 'application/x-bzip2', xz: 'application/x-xz', '7z': 'application/x-7z-compressed', rar: 'application/vnd.rar',
  zst: 'application/zstd',
  // audio
  mp3: 'audio/mpeg', wav: 'audio/wav', ogg: 'audio/ogg', oga: 'audio/ogg', opus: 'audio/opus', flac: 'audio/flac',
  m4a: 'audio/mp4', aac: 'audio/aac', weba: 'audio/webm', mid: 'audio/midi', midi: 'audio/midi',
  // video
  mp4: 'video/mp4', m4v: 'video/mp4', mov: 'video/quicktime', webm: 'video/webm', mkv: 'video/x-matroska',
  avi: 'video/x-msvideo', mpeg: 'video/mpeg', mpg: 'video/mpeg', ogv: 'video/ogg', '3gp': 'video/3gpp',
  // calendar and contacts
  ics: 'text/calendar', ifb: 'text/calendar', vcf: 'text/vcard', vcard: 'text/vcard',
  // text
  txt: 'text/plain', text: 'text/plain', log: 'text/plain', md: 'text/markdown', markdown: 'text/markdown',
  html: 'text/html', htm: 'text/html', css: 'text/css', csv: 'text/csv', tsv: 'text/tab-separated-values',
  xml: 'application/xml', json: 'application/json', js: 'text/javascript', mjs: 'text/javascript',
  yaml: 'application/yaml', yml: 'application/yaml',
  // mail
  eml: 'message/rfc822', msg: 'application/vnd.ms-outlook',
  // fonts and misc
  woff: 'font/woff', woff2: 'font/woff2', ttf: 'font/ttf', otf: 'font/otf', wasm: 'application/wasm',
  p7s: 'application/pkcs7-signature', p7m: 'application/pkcs7-mime', asc: 'application/pgp-signature',
  pem: 'application/x-pem-file', bin: 'application/octet-stream', exe: 'application/octet-stream',
};

/**
 * Guesses a media type from a filename's extension with a built-in table (images, documents, archives,
 * audio, video, calendar, text); anything else is `application/octet-stream`.
 *
 * @example
 * ```ts
 * guessContentType('Report.PDF');  // 'application/pdf'
 * guessContentType('invite.ics');  // 'text/calendar'
 * guessContentType('data.xyz');    // 'application/octet-stream'
 * ```
 */
export function guessContentType(filename: string): string {
  const base = filename.split(/[/\\]/).pop() ?? '';
  const dot = base.lastIndexOf('.');
  if (dot < 0) return 'application/octet-stream';
  return TYPES[base.slice(dot + 1).toLowerCase()] ?? 'application/octet-stream';
}
