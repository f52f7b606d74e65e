import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Replaces secrets in text. Every string that leaves the process through us goes through one. */
export type Redactor = (text: string) => string;

const MASK = '***';
/** The shortest value masked as a secret. */
const MIN_SECRET = 8;

/**
 * Builds the redactor for a run: the RunComfy token from `RUNCOMFY_TOKEN` and from the
 * client's `token.json` (same search order as the client, runcomfy-contract.md section 3),
 * plus anything that looks like a bearer credential. Reading the token file here is only for
 * masking; we never send or store it.
 */
export function makeRedactor(env: Readonly<Record<string, string | undefined>>): Redactor {
  const secrets = new Set<string>();
  const fromEnv = env['RUNCOMFY_TOKEN']?.trim();
  if (fromEnv) secrets.add(fromEnv);
  const fromFile = readTokenFile(env);
  if ('token' in fromFile && fromFile.token) secrets.add(fromFile.token);
  // Longest first, so a token containing another secret is masked whole. A value shorter than
  // MIN_SECRET is no real token (a test's "probe"), and masking it would rewrite ordinary words
  // and paths in the records: `/tmp/probe2/out` became `/tmp/***2/out` and broke the cache.
  const list = [...secrets].filter((s) => s.length >= MIN_SECRET).sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text;
    for (const secret of list) out = out.split(secret).join(MASK);
    return out.replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, `$1${MASK}`);
  };
}

/** The directory the client reads `token.json` from. */
export function clientConfigDir(env: Readonly<Record<string, string | undefined>>): string {
  const explicit = env['RUNCOMFY_CONFIG_DIR'];
  if (explicit) return explicit;
  const xdg = env['XDG_CONFIG_HOME'];
  if (xdg) return join(xdg, 'runcomfy');
  return join(env['HOME'] ?? homedir(), '.config', 'runcomfy');
}

/**
 * Why the client cannot use its token file, when it would read it (no `RUNCOMFY_TOKEN`) and the
 * file exists but is unreadable or malformed; undefined otherwise. The client exits 1 for this
 * (contract section 1) with wording the contract does not fix, so the file itself is looked at.
 */
export function brokenTokenFile(env: Readonly<Record<string, string | undefined>>): string | undefined {
  if ((env['RUNCOMFY_TOKEN'] ?? '').trim() !== '') return undefined;
  const read = readTokenFile(env);
  return 'problem' in read ? read.problem : undefined;
}

/** The client's token file: its access token, nothing (no file), or what is wrong with it. */
function readTokenFile(
  env: Readonly<Record<string, string | undefined>>,
): { readonly token?: string } | { readonly problem: string } {
  const file = join(clientConfigDir(env), 'token.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR'
      ? {}
      : { problem: `${file} cannot be read (${code ?? 'error'})` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { problem: `${file} is not valid JSON` };
  }
  const token =
    parsed !== null && typeof parsed === 'object'
      ? (parsed as { access_token?: unknown }).access_token
      : undefined;
  return typeof token === 'string' && token.trim() !== ''
    ? { token: token.trim() }
    : { problem: `${file} has no access_token` };
}

/** The last `lines` lines of a text, for records and messages. */
export function tail(text: string, lines = 20): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}
