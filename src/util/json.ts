/** JSON values as they travel between recipes, the client and records. */
export type JsonValue =
  string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };
export type JsonObject = { readonly [key: string]: JsonValue };

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * JSON with keys sorted at every level. Used wherever text is hashed or compared (cache keys,
 * records), so two equal values always give the same bytes.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/** A short, readable rendering of a value for messages: strings quoted, long values cut. */
export function describeValue(value: unknown, max = 60): string {
  let text: string;
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') text = JSON.stringify(value);
  else text = JSON.stringify(value) ?? typeof value;
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** "a string", "a list", "a mapping"… in the user's (YAML) terms rather than JSON's. */
export function kindOf(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
      return Number.isInteger(value) ? 'an integer' : 'a number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      // YAML 1.1 (`%YAML 1.1`) reads an unquoted 2099-05-01 as a timestamp, !!binary as bytes
      // and !!set as a set: none of them is a mapping, and quoting the value keeps it text.
      if (value instanceof Date) return 'a timestamp (YAML 1.1 reads an unquoted date as one; quote it)';
      if (value instanceof Uint8Array) return 'binary data';
      if (value instanceof Set) return 'a set';
      return 'a mapping';
    default:
      return typeof value;
  }
}

/**
 * The runcomfy client's stdout payload. It is one JSON document (contract section 4); should anything
 * else ever share stdout (a wrapper's notice, a warning), the last line that is a JSON object
 * is the payload, as the json mode prints it on one line.
 */
export function parseClientPayload(text: string): JsonValue | undefined {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    const lines = text.split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = lines[i]!.trim();
      if (!line.startsWith('{')) continue;
      try {
        return JSON.parse(line) as JsonValue;
      } catch {
        // not the payload line
      }
    }
    return undefined;
  }
}
