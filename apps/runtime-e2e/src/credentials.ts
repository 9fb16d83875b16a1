/** The credentials the AUTH cases use and the servers accept (test values, nothing real). */
export const USER = 'alice@example.com';
export const PASSWORD = 'e2e-Secret-pass';
export const TOKEN = 'e2e-access-token';
