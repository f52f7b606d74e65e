import type * as Crypto from 'node:crypto';

let crypto: typeof Crypto | undefined;

/**
 * SHA-256 of text or bytes, as hex. `node:crypto` is loaded on first use, not with the module:
 * loading it costs ~8 ms, a tenth of what `validate` of a small recipe spends beyond Node's own
 * start, and validate and plan never need a hash.
 */
export function sha256Hex(data: string | Uint8Array): string {
  crypto ??= process.getBuiltinModule('node:crypto');
  return crypto.createHash('sha256').update(data).digest('hex');
}
