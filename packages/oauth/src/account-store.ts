import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { OAuthError } from './errors.js';
import { withLock } from './lock.js';
import type { ProviderName } from './providers.js';
import { defaultKeyringBackend, FileSecretStore, KeyringSecretStore, type KeyringBackend, type SecretStore } from './secret-store.js';
import type { TokenSet } from './token-set.js';

/** What `smtpkit accounts` shows and a refresh needs; never a secret. Kept in `accounts.json`. */
export interface AccountRecord {
  name: string;
  provider: ProviderName;
  /** The mailbox (XOAUTH2 `user=`). */
  user: string;
  store: 'keyring' | 'file';
  keyring?: KeyringBackend;
  clientId: string;
  tenant?: string;
  issuer?: string;
  tokenEndpoint: string;
  revocationEndpoint?: string;
  scopes: string[];
  scopeOnRefresh: boolean;
  smtp?: { host: string; port: number };
  /** ISO 8601 times. */
  createdAt: string;
  accessTokenExpiresAt: string;
  lastRefreshAt?: string;
}

/** Environment and overrides for {@link AccountStore}. */
export interface AccountStoreOptions {
  env?: NodeJS.ProcessEnv;
  /** The keyring program to run (tests point it at a fake). */
  keyringCommand?: string;
  keyringBackend?: KeyringBackend;
}

/** RFC-free but strict: account names become file names and keyring attributes. */
const ACCOUNT_NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;

/** Refuses names that could escape the token directory or confuse a keyring command line. */
export function checkAccountName(name: string): string {
  if (!ACCOUNT_NAME.test(name)) {
    throw new OAuthError(`invalid account name ${JSON.stringify(name)}: letters, digits and . _ @ + - only, starting with a letter or digit`, { kind: 'usage', code: 'ERR_OAUTH_ACCOUNT_NAME' });
  }
  return name;
}

/**
 * The account store: metadata in `$XDG_CONFIG_HOME/smtpkit/accounts.json`, token sets in the keyring or
 * in `$XDG_STATE_HOME/smtpkit/tokens/`, locks in `$XDG_STATE_HOME/smtpkit/locks/`.
 */
export class AccountStore {
  readonly configDir: string;
  readonly stateDir: string;
  private readonly options: AccountStoreOptions;

  constructor(options: AccountStoreOptions = {}) {
    const env = options.env ?? process.env;
    this.options = options;
    this.configDir = join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'smtpkit');
    this.stateDir = join(env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state'), 'smtpkit');
  }

  get accountsFile(): string {
    return join(this.configDir, 'accounts.json');
  }

  lockFile(name: string): string {
    return join(this.stateDir, 'locks', `${name}.lock`);
  }

  /** Every account, sorted by name. */
  async list(): Promise<AccountRecord[]> {
    return Object.values(await this.readAll()).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** One account; a clear `config` error naming `smtpkit login` when there is none. */
  async get(name: string): Promise<AccountRecord> {
    checkAccountName(name);
    const record = (await this.readAll())[name];
    if (!record) {
      throw new OAuthError(`no account "${name}": sign in first with \`smtpkit login microsoft|google|oidc --account ${name}\``, { kind: 'config', code: 'ERR_OAUTH_NO_ACCOUNT' });
    }
    return record;
  }

  /** Adds or replaces an account's metadata (under a lock, so concurrent refreshes do not lose updates). */
  async put(record: AccountRecord): Promise<void> {
    await this.update((all) => ({ ...all, [record.name]: record }));
  }

  /** Changes some fields of a stored account. */
  async patch(name: string, fields: Partial<AccountRecord>): Promise<void> {
    await this.update((all) => (all[name] ? { ...all, [name]: { ...all[name], ...fields } } : all));
  }

  async remove(name: string): Promise<boolean> {
    let found = false;
    await this.update((all) => {
      found = name in all;
      const { [name]: _gone, ...rest } = all;
      return rest;
    });
    return found;
  }

  /** The secret store an account uses. */
  secrets(record: Pick<AccountRecord, 'store' | 'keyring'>): SecretStore {
    if (record.store === 'file') return new FileSecretStore(join(this.stateDir, 'tokens'));
    return new KeyringSecretStore({
      backend: record.keyring ?? this.options.keyringBackend ?? defaultKeyringBackend(),
      ...(this.options.keyringCommand ? { command: this.options.keyringCommand } : {}),
    });
  }

  /** `--store auto`: the keyring when a round trip through it works, else the file. */
  async chooseStore(mode: 'auto' | 'keyring' | 'file'): Promise<Pick<AccountRecord, 'store' | 'keyring'>> {
    if (mode === 'file') return { store: 'file' };
    const keyring = new KeyringSecretStore({
      backend: this.options.keyringBackend ?? defaultKeyringBackend(),
      ...(this.options.keyringCommand ? { command: this.options.keyringCommand } : {}),
    });
    if (await keyring.probe()) return { store: 'keyring', keyring: keyring.backend };
    if (mode === 'keyring') {
      throw new OAuthError(`--store keyring: the keyring (${keyring.backend}) does not work here (no such program, or no unlocked keyring); use --store file`, { kind: 'config', code: 'ERR_OAUTH_KEYRING' });
    }
    return { store: 'file' };
  }

  async readTokens(record: AccountRecord): Promise<TokenSet> {
    const text = await this.secrets(record).get(record.name);
    if (text === undefined) {
      throw new OAuthError(`account "${record.name}" has no stored tokens (${record.store}): run \`smtpkit login ${record.provider} --account ${record.name}\` again`, { kind: 'auth', code: 'ERR_OAUTH_RELOGIN', reloginNeeded: true });
    }
    try {
      const parsed = JSON.parse(text) as TokenSet;
      if (typeof parsed.accessToken !== 'string' || typeof parsed.expiresAt !== 'number') throw new Error('fields missing');
      return parsed;
    } catch {
      throw new OAuthError(`the stored tokens of account "${record.name}" are damaged: run \`smtpkit login ${record.provider} --account ${record.name}\` again`, { kind: 'auth', code: 'ERR_OAUTH_RELOGIN', reloginNeeded: true });
    }
  }

  async writeTokens(record: AccountRecord, tokens: TokenSet): Promise<void> {
    await this.secrets(record).set(record.name, JSON.stringify(tokens));
  }

  private async readAll(): Promise<Record<string, AccountRecord>> {
    let text: string;
    try {
      text = await readFile(this.accountsFile, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new OAuthError(`cannot read ${this.accountsFile}: ${(error as Error).message}`, { kind: 'config', code: 'ERR_OAUTH_STORE', cause: error });
    }
    try {
      const parsed = JSON.parse(text) as { accounts?: Record<string, AccountRecord> };
      return parsed.accounts ?? {};
    } catch {
      throw new OAuthError(`${this.accountsFile} is not valid JSON: fix or remove it`, { kind: 'config', code: 'ERR_OAUTH_STORE' });
    }
  }

  private async update(change: (all: Record<string, AccountRecord>) => Record<string, AccountRecord>): Promise<void> {
    await mkdir(this.configDir, { recursive: true, mode: 0o700 });
    await withLock(join(this.stateDir, 'accounts.lock'), async () => {
      const next = change(await this.readAll());
      const temp = `${this.accountsFile}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(temp, JSON.stringify({ version: 1, accounts: next }, null, 2) + '\n', { mode: 0o600 });
      await rename(temp, this.accountsFile);
    }, { timeoutMs: 30_000 });
  }
}
