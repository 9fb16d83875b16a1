// One lint config for the workspace. The layer rules keep I/O out of the pure packages
// (STYLE.md §1): @smtpkit/wire and @smtpkit/mime never touch sockets, files or DNS.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ioModules = ['net', 'tls', 'dns', 'fs', 'fs/promises', 'dgram', 'http', 'https', 'child_process'];
const ioPaths = ioModules.flatMap((m) => [m, `node:${m}`]).map((name) => ({
  name,
  message: 'wire and mime are pure: no sockets, files or DNS here (STYLE.md §1).',
}));

export default tseslint.config(
  { ignores: ['**/dist/**', '**/coverage/**', '**/node_modules/**', '**/*.d.ts', 'bench/.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    files: ['packages/smtp-wire/src/**/*.ts', 'packages/mime/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: ioPaths, patterns: ['@smtpkit/client', '@smtpkit/client/*'] }],
    },
  },
  {
    files: ['packages/smtp-wire/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: ioPaths, patterns: ['@smtpkit/client', '@smtpkit/mime'] }] },
  },
  {
    files: ['packages/mime/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: ioPaths, patterns: ['@smtpkit/client', '@smtpkit/wire'] }] },
  },
  {
    // @smtpkit/dkim: node:crypto only; no sockets, files or DNS, and none of the other packages.
    files: ['packages/dkim/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: ioPaths, patterns: ['@smtpkit/*'] }] },
  },
  {
    files: ['packages/smtp-client/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['@smtpkit/mime', '**/smtp-wire/src/**'] }] },
  },
  {
    files: ['packages/oauth/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['@smtpkit/wire', '@smtpkit/client', '@smtpkit/mime'] }] },
  },
  {
    files: ['apps/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['**/packages/*/src/**', '@smtpkit/*/src/*'] }] },
  },
  {
    files: ['apps/**/*.ts', '**/test/**/*.ts', '**/bench/**/*.ts', '**/scripts/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
