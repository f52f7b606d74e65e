// JSON text as the real client prints it (contract §4): object keys sorted at every level,
// either 2-space indented ("pretty", serde_json's to_string_pretty) or one compact line ("json").
//
// We cannot reuse JSON.stringify on a re-sorted object: JavaScript always enumerates
// integer-like keys ("2", "10") first and in numeric order, whereas serde_json's BTreeMap sorts
// keys by their UTF-8 bytes ("10" < "2"). So the serializer walks sorted key lists itself.
//
// Known difference: numbers go through JavaScript (1.0 prints as 1, 1e21 as 1e+21); serde
// keeps the source's integer/float distinction. Callers must parse the output, never compare text.

/** Byte-wise UTF-8 comparison, the order serde_json's BTreeMap uses. */
export function compareKeys(a, b) {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Serialize `value` with sorted keys.
 * @param {unknown} value any JSON value (undefined members are dropped, as JSON.stringify does)
 * @param {boolean} pretty 2-space indentation when true, one compact line when false
 * @returns {string}
 */
export function toJsonText(value, pretty) {
  return write(value, pretty, '');
}

function write(value, pretty, indent) {
  if (value === null || typeof value !== 'object') {
    // Strings, numbers, booleans; non-JSON scalars (undefined, functions) become null.
    return JSON.stringify(value) ?? 'null';
  }
  const inner = pretty ? indent + '  ' : '';
  const open = pretty ? '\n' + inner : '';
  const separator = pretty ? ',\n' + inner : ',';
  const close = pretty ? '\n' + indent : '';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return '[' + open + value.map((item) => write(item, pretty, inner)).join(separator) + close + ']';
  }
  const keys = Object.keys(value)
    .filter((key) => value[key] !== undefined)
    .sort(compareKeys);
  if (keys.length === 0) return '{}';
  const colon = pretty ? ': ' : ':';
  const members = keys.map((key) => JSON.stringify(key) + colon + write(value[key], pretty, inner));
  return '{' + open + members.join(separator) + close + '}';
}

/**
 * An object's keys in the client's (sorted) order; [] for anything that is not a plain object.
 * Used to walk `output` for download URLs in the order the client does.
 */
export function sortedKeys(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? Object.keys(value).sort(compareKeys)
    : [];
}
