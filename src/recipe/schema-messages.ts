import type { DiagnosticCode } from './diagnostic.js';
import type { SchemaIssue } from './schema-check.js';
import type { DataPath } from './yaml-index.js';
import { didYouMean } from '../util/suggest.js';
import { DURATION_PATTERN } from '../util/duration.js';
import { describeValue, isJsonObject, kindOf } from '../util/json.js';

/** A schema issue in the user's words, and where to point. */
export interface WordedIssue {
  readonly code: DiagnosticCode;
  readonly message: string;
  /** The data path to underline. */
  readonly path: DataPath;
  /** Underline the key that names `path` rather than its value. */
  readonly atKey: boolean;
}

/** Names a place in the data for a message: `"retries" in stage "face"`, `the recipe`… */
export type DescribePath = (path: DataPath) => string;

/**
 * The source text of the scalar at a data path (with `atKey`, of the key naming it), when the
 * caller has the recipe's text: advice then quotes what the user wrote, not what YAML made of it.
 */
export type WrittenText = (path: DataPath, atKey: boolean) => string | undefined;

/**
 * Drops the noise ajv produces for `anyOf`/`oneOf`: with `allErrors` it reports every failing
 * branch and then the combinator itself. The user needs one sentence. When exactly one branch
 * accepts the value's type (`needs: Face` is a string, and one branch is a string of stage-id
 * form), that branch's issues say what is wrong and the rest are dropped; otherwise only the
 * combinator's issue remains.
 */
export function pruneBranchIssues(issues: readonly SchemaIssue[]): SchemaIssue[] {
  // `propertyNames` adds a summary ("property name must be valid") after the issue that names
  // the bad key; only the latter says anything useful.
  const named = issues.filter((i) => i.keyword !== 'propertyNames');
  const combinators = named.filter((i) => i.keyword === 'anyOf' || i.keyword === 'oneOf');
  if (combinators.length === 0) return named;
  const dropped = new Set<SchemaIssue>();
  for (const combinator of combinators) {
    const prefix = `${combinator.schemaPath}/`;
    const branches = new Map<string, SchemaIssue[]>();
    for (const issue of named) {
      if (!issue.schemaPath.startsWith(prefix) || !isBelow(issue, combinator)) continue;
      const branch = issue.schemaPath.slice(prefix.length).split('/')[0]!;
      const list = branches.get(branch) ?? [];
      list.push(issue);
      branches.set(branch, list);
    }
    // A branch fits unless its own `type` keyword refused the value itself.
    const fitting = [...branches].filter(
      ([branch, list]) =>
        !list.some(
          (i) => i.schemaPath === `${prefix}${branch}/type` && i.path.length === combinator.path.length,
        ),
    );
    const keep = fitting.length === 1 ? fitting[0]![1] : [];
    if (keep.length > 0) dropped.add(combinator);
    for (const list of branches.values())
      for (const issue of list) if (!keep.includes(issue)) dropped.add(issue);
  }
  // A branch behind a $ref reports its issues under the referenced schema's path, so the loop
  // above may not see that it fits. When a more specific issue below the combinator's value is
  // left (`medium: photo` inside a scene), that is the problem: the summary ("has the wrong
  // form") and the other branches' type refusals of the value itself only hide it.
  for (const combinator of combinators) {
    if (dropped.has(combinator)) continue;
    const deeper = named.some(
      (i) =>
        !dropped.has(i) &&
        i.keyword !== 'anyOf' &&
        i.keyword !== 'oneOf' &&
        i.path.length > combinator.path.length &&
        isBelow(i, combinator),
    );
    if (!deeper) continue;
    dropped.add(combinator);
    for (const i of named)
      if (i.keyword === 'type' && i.path.length === combinator.path.length && isBelow(i, combinator))
        dropped.add(i);
  }
  return named.filter((i) => !dropped.has(i));
}

/** Whether an issue is about the value a combinator checks, or something inside it. */
function isBelow(issue: SchemaIssue, combinator: SchemaIssue): boolean {
  return combinator.path.every((segment, k) => issue.path[k] === segment);
}

/** For a `<<` key: YAML 1.2 (the default) has no merge keys, so `<<` is a plain key there. */
export const MERGE_HINT =
  '; "<<" merges a mapping only in YAML 1.1: put "%YAML 1.1" and "---" on the first two lines (YAML 1.1 also reads unquoted dates, yes/no and numbers like 1_000 differently: quote such values), or write the keys out (aliases such as *name work in any version)';

/**
 * The fix for a number or boolean where text belongs: a duration needs its unit (`timeout: 30`
 * means nothing), other text needs quotes (`name: 2026` is a number to YAML).
 */
function typeHint(issue: SchemaIssue, written: WrittenText): string {
  const data = issue.data;
  if (issue.params['type'] === 'string' && Array.isArray(data)) return listHint(written(issue.path, false));
  if (issue.params['type'] === 'array' && typeof data === 'string')
    return oneItemHint(data, written(issue.path, false));
  if (issue.params['type'] !== 'string' || (typeof data !== 'number' && typeof data !== 'boolean')) return '';
  if (
    issue.schema['pattern'] === DURATION_PATTERN &&
    typeof data === 'number' &&
    Number.isInteger(data) &&
    data > 0
  )
    return `; give a unit: "${data}s", "${data}m", "${data}h" or "${data}d"`;
  return quoteHint(String(data), written(issue.path, false));
}

/**
 * `subjects: ana` where a list is wanted: `; write a list: [ana]`, as written. A plain value
 * that a flow list would read differently (`,` `[` `]` `{` `}` `#`, `: `) is quoted, so the fix
 * never splits a URL at its commas; not for an expression (which says more elsewhere), a block
 * or tagged scalar, or a long value.
 */
function oneItemHint(value: string, written: string | undefined): string {
  if (written === undefined || written.length > 200 || written.includes('\n') || /^[|>!&*]/.test(written))
    return '';
  if (wholeExpression(written) !== undefined) return '';
  const quoted = /^["']/.test(written);
  return `; write a list: [${quoted || !/[,[\]{}#]|: /.test(written) ? written : JSON.stringify(value)}]`;
}

/**
 * `; quote it ("0x10") to keep it text`: the text as written, since quoting what YAML made of it
 * (`"16"`, `"1.1"`, `"969"` for a YAML 1.1 `16:9`) changes the value. A value that is one whole
 * `${{ }}` keeps its result's type whether quoted or not, so quotes fix nothing there: say what
 * does. Without the source text (`written` undefined) the parsed value is all there is.
 */
function quoteHint(parsed: string, written: string | undefined): string {
  const quoted = written !== undefined && /^["']/.test(written);
  const expression = wholeExpression(written);
  if (expression !== undefined) {
    const fix = expression.includes('"')
      ? "wrap the expression in format('{0}', ...) to make it text"
      : `write "\${{ format('{0}', ${expression}) }}"`;
    const variable = /^vars\.([A-Za-z_][A-Za-z0-9_-]*)$/.exec(expression)?.[1];
    const orVar = variable === undefined ? '' : `, or make the var text (${variable}: "${parsed}")`;
    return `; a value that is only \${{ }} keeps the type of its result, even in quotes: ${fix}${orVar}`;
  }
  const text = written !== undefined && !quoted && !/^[|>!&*]/.test(written) ? written : parsed;
  return `; quote it (${JSON.stringify(text)}) to keep it text`;
}

/** The expression of a value written as one whole `${{ }}` (quoted or not), without the braces. */
function wholeExpression(written: string | undefined): string | undefined {
  const inner = written !== undefined && /^["']/.test(written) ? written.slice(1, -1) : written;
  return inner === undefined
    ? undefined
    : /^\$\{\{\s*((?:(?!\$\{\{)[\s\S])*?)\s*\}\}$/.exec(inner.trim())?.[1];
}

/**
 * `prompt: ${{ vars.tags }}` with a list in tags: the list's items joined make the text, as
 * format() does for a number. A list written out in YAML is left to its author.
 */
function listHint(written: string | undefined): string {
  const expression = wholeExpression(written);
  if (expression === undefined) return '';
  // Text with quotes or escapes in it reads differently once moved: name the functions only.
  if (/["\\]/.test(expression))
    return "; to send its items as one text, wrap the expression in join(..., ', ') (or toJSON(...) for the list as JSON)";
  return `; to send its items as one text, join them: "\${{ join(${expression}, ', ') }}" (or toJSON(${expression}) for the list as JSON)`;
}

/**
 * Puts the source text into the "quote it" advice of a message worded without it (a model's
 * input is checked as plain data, then located in the recipe).
 */
export function withWrittenText(message: string, written: string | undefined): string {
  if (written === undefined) return message;
  return message.replace(/; quote it \("([^"]*)"\) to keep it text/, (_, parsed: string) =>
    quoteHint(parsed, written),
  );
}

/** A `${{ }}` where the recipe takes a plain value (retries, needs, a name…). */
function notHere(issue: SchemaIssue, where: string): WordedIssue {
  return {
    code: 'invalid-value',
    message: `${where} cannot be an expression (${describeValue(issue.data)}); expressions are evaluated only in input, swap and foreach: write the value itself`,
    path: issue.path,
    atKey: false,
  };
}

/** Rewords one ajv issue. `knownKeys` lists a mapping's allowed keys for "did you mean". */
export function wordIssue(
  issue: SchemaIssue,
  describe: DescribePath,
  /** The recipe's own keys, where `${{ }}` is not evaluated (model inputs are). */
  recipeKeys = false,
  written: WrittenText = () => undefined,
): WordedIssue {
  const where = describe(issue.path);
  const p = issue.params;
  const schema = issue.schema;
  switch (issue.keyword) {
    case 'required': {
      const key = String(p['missingProperty']);
      const hint = issue.path.length === 0 && key === 'version' ? '; add "version: 1" at the top' : '';
      return {
        code: 'missing-key',
        message: `${where} is missing the required key "${key}"${hint}`,
        path: issue.path,
        atKey: true,
      };
    }
    case 'additionalProperties': {
      const key = String(p['additionalProperty']);
      const allowed = Object.keys((schema['properties'] as Record<string, unknown> | undefined) ?? {});
      const nullKey = writtenNull(written([...issue.path, key], true), key);
      const hint =
        key === '<<' ? MERGE_HINT : nullKey !== undefined ? NULL_KEY_HINT : didYouMean(key, allowed);
      return {
        code: 'unknown-key',
        message: `unknown key ${nullKey ?? `"${key}"`} in ${where}${hint}`,
        path: [...issue.path, key],
        atKey: true,
      };
    }
    case 'type':
      if (recipeKeys && typeof issue.data === 'string' && issue.data.includes('${{'))
        return notHere(issue, where);
      // A mapping in a var's list (`shots: [{url: …}]`).
      if (recipeKeys && issue.path.length === 3 && issue.path[0] === 'vars' && isJsonObject(issue.data))
        return {
          code: 'invalid-type',
          message: `${where} is a mapping, but ${VAR_VALUES}; list the values themselves${listedValue(String(issue.path[1]), issue.data)}, or keep each mapping as JSON text and read it with fromJSON(…)`,
          path: issue.path,
          atKey: false,
        };
      return {
        code: 'invalid-type',
        message:
          issue.data === null
            ? `${where} is empty; it must be ${typeWords(p['type'])}`
            : p['type'] === 'integer' && typeof issue.data === 'number'
              ? `${where} must be a whole number, not ${String(issue.data)}`
              : `${where} must be ${typeWords(p['type'])}, not ${kindOf(issue.data)}${typeHint(issue, written)}`,
        path: issue.path,
        atKey: false,
      };
    case 'const':
      return {
        code: 'invalid-value',
        message: `${where} must be ${describeValue(p['allowedValue'])}, not ${describeValue(issue.data)}`,
        path: issue.path,
        atKey: false,
      };
    case 'enum': {
      const allowed = (p['allowedValues'] as unknown[]).map((v) => String(v));
      // A choice the recipe itself makes (a swap's output or style picks the route before
      // anything runs), even inside swap:, where the media fields take expressions.
      if (recipeKeys && typeof issue.data === 'string' && issue.data.includes('${{'))
        return {
          code: 'invalid-value',
          message: `${where} cannot be an expression (${describeValue(issue.data)}): it is read before anything runs, to plan the stage; write one of ${allowed.join(', ')}`,
          path: issue.path,
          atKey: false,
        };
      const hint = typeof issue.data === 'string' ? didYouMean(issue.data, allowed) : '';
      return {
        code: 'invalid-value',
        message: `${where} must be one of ${allowed.join(', ')}, not ${describeValue(issue.data)}${hint}`,
        path: issue.path,
        atKey: false,
      };
    }
    case 'pattern': {
      const pattern = String(p['pattern']);
      if (issue.propertyName !== undefined) {
        const nullKey = writtenNull(written([...issue.path, issue.propertyName], true), issue.propertyName);
        if (nullKey !== undefined) {
          const quoted = matches(nullKey, pattern) ? `; quote it ("${nullKey}") to make it a name` : '';
          return {
            code: 'invalid-value',
            message: `${describeKey(issue.path, nullKey, describe, false)} is not valid${NULL_KEY_HINT}${quoted || `; ${patternHint(pattern)}`}`,
            path: [...issue.path, issue.propertyName],
            atKey: true,
          };
        }
        return {
          code: 'invalid-value',
          message: `${describeKey(issue.path, issue.propertyName, describe)} is not valid: ${patternHint(pattern)}${fixedSpelling(issue.propertyName, pattern)}`,
          path: [...issue.path, issue.propertyName],
          atKey: true,
        };
      }
      if (pattern === DURATION_PATTERN) {
        const text = typeof issue.data === 'string' ? issue.data : undefined;
        const fixed = text === undefined ? undefined : durationSpelling(text);
        const hint =
          text !== undefined && text.includes('${{')
            ? '; expressions are evaluated only in input, swap and foreach: write the duration itself (e.g. 15m)'
            : text !== undefined && /^\s*0+\s*[smhd]\s*$/i.test(text)
              ? '; a duration must be more than zero (e.g. 90s, 15m, 2h, 6d)'
              : fixed === undefined
                ? `; ${patternHint(pattern)}`
                : `; write "${fixed}" (a whole number and a unit s, m, h or d)`;
        return {
          code: 'invalid-value',
          message: `invalid duration ${describeValue(issue.data)} for ${where}${hint}`,
          path: issue.path,
          atKey: false,
        };
      }
      // `needs: ${{ stages.b }}` or `needs: [stages.b]`: needs names stages by id.
      const inNeeds = issue.path.includes('needs');
      const named =
        typeof issue.data === 'string' ? /\bstages\.([a-z][a-z0-9_-]*)/.exec(issue.data)?.[1] : undefined;
      if (inNeeds && named !== undefined)
        return {
          code: 'invalid-value',
          message: `invalid value ${describeValue(issue.data)} for ${where}: needs takes stage ids, not expressions or paths; write needs: [${named}]`,
          path: issue.path,
          atKey: false,
        };
      if (recipeKeys && typeof issue.data === 'string' && issue.data.includes('${{'))
        return notHere(issue, where);
      return {
        code: 'invalid-value',
        message: `invalid value ${describeValue(issue.data)} for ${where}: ${patternHint(pattern)}${typeof issue.data === 'string' ? fixedSpelling(issue.data, pattern) : ''}`,
        path: issue.path,
        atKey: false,
      };
    }
    case 'maxLength':
      if (issue.propertyName !== undefined) {
        return {
          code: 'invalid-value',
          message: `${describeKey(issue.path, issue.propertyName, describe)} is longer than ${String(p['limit'])} characters`,
          path: [...issue.path, issue.propertyName],
          atKey: true,
        };
      }
      return {
        code: 'invalid-value',
        message: `${where} is longer than ${String(p['limit'])} characters`,
        path: issue.path,
        atKey: false,
      };
    case 'minLength':
      return {
        code: 'invalid-value',
        message:
          p['limit'] === 1
            ? `${where} must not be empty`
            : `${where} must be at least ${String(p['limit'])} characters long`,
        path: issue.path,
        atKey: false,
      };
    case 'minimum':
    case 'exclusiveMinimum':
    case 'maximum':
    case 'exclusiveMaximum': {
      const bound = issue.keyword.includes('inimum') ? 'at least' : 'at most';
      const strict = issue.keyword.startsWith('exclusive')
        ? bound === 'at least'
          ? 'more than'
          : 'less than'
        : bound;
      return {
        code: 'invalid-value',
        message: `${where} must be ${strict} ${String(p['limit'])}, not ${describeValue(issue.data)}`,
        path: issue.path,
        atKey: false,
      };
    }
    case 'minItems':
    case 'maxItems': {
      const count = Array.isArray(issue.data) ? issue.data.length : 0;
      const limit = Number(p['limit']);
      const bound = issue.keyword === 'minItems' ? 'at least' : 'at most';
      // Too many: point at the first item past the limit, not at the start of a long list.
      const over = issue.keyword === 'maxItems' && count > limit && Number.isInteger(limit);
      return {
        code: 'invalid-value',
        message: over
          ? `${where} has ${count} items, ${count - limit} more than the ${limit} allowed`
          : `${where} has ${count} item${count === 1 ? '' : 's'}; ${bound} ${limit} allowed`,
        path: over ? [...issue.path, limit] : issue.path,
        atKey: false,
      };
    }
    case 'minProperties':
      return {
        code: 'invalid-value',
        message: `${where} must have at least ${String(p['limit'])} entr${p['limit'] === 1 ? 'y' : 'ies'}`,
        path: issue.path,
        atKey: false,
      };
    case 'uniqueItems': {
      const list = Array.isArray(issue.data) ? issue.data : [];
      const j = Number(p['j']);
      return {
        code: 'invalid-value',
        message: `${where} lists ${describeValue(list[j])} more than once`,
        path: [...issue.path, j],
        atKey: false,
      };
    }
    case 'anyOf':
    case 'oneOf': {
      if (recipeKeys && issue.path.length === 2 && issue.path[0] === 'vars' && isJsonObject(issue.data))
        return {
          code: 'invalid-type',
          message: `var "${String(issue.path[1])}" is a mapping, but ${VAR_VALUES}${mappingVarFix(String(issue.path[1]), issue.data)}`,
          path: issue.path,
          atKey: false,
        };
      const description =
        typeof schema['description'] === 'string' ? `: ${firstSentence(schema['description'])}` : '';
      return {
        code: 'invalid-type',
        message: `${where} has the wrong form${description}`,
        path: issue.path,
        atKey: false,
      };
    }
    default:
      return { code: 'invalid-value', message: `${where} ${issue.fallback}`, path: issue.path, atKey: false };
  }
}

const VAR_VALUES = 'vars hold text, numbers, true, false or null, or lists of those';

/**
 * The two ways to keep a mapping's values in vars: a var per entry, or the mapping as JSON text
 * that an expression reads with fromJSON (the var stays one value, and --set can replace it).
 */
function mappingVarFix(name: string, value: Readonly<Record<string, unknown>>): string {
  const [first] = Object.entries(value);
  if (!first) return '; write its value itself, or remove it';
  const [key, item] = first;
  const json = JSON.stringify(value);
  const plain = plainYaml(item);
  const perEntry = plain !== undefined && /^[A-Za-z0-9_-]+$/.test(key) ? ` (${name}_${key}: ${plain})` : '';
  const asJson = json.length <= 80 && !json.includes("'") ? ` (${name}: '${json}')` : '';
  const read = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `.${key}` : `['${key.replace(/'/g, "''")}']`;
  return `; make one var per entry${perEntry}, or keep it as JSON text${asJson} and read it with \${{ fromJSON(vars.${name})${read} }}`;
}

/** `(shots: [https://…/s1.jpg])` from a list item `{url: https://…/s1.jpg}`: its one value, listed. */
function listedValue(name: string, item: Readonly<Record<string, unknown>>): string {
  const values = Object.values(item);
  const plain = values.length === 1 ? plainYaml(values[0]) : undefined;
  return plain === undefined ? '' : ` (${name}: [${plain}, …])`;
}

/** A scalar as YAML that reads back the same (text that YAML would read otherwise, quoted). */
function plainYaml(value: unknown): string | undefined {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'string') return undefined;
  return /^[A-Za-z][\w./:-]*$/.test(value) && !/^(true|false|null|yes|no|on|off)$/i.test(value)
    ? value
    : JSON.stringify(value);
}

function describeKey(path: DataPath, key: string, describe: DescribePath, quote = true): string {
  const container = path[path.length - 1];
  const name = quote ? `"${key}"` : key;
  if (path.length === 1 && container === 'stages') return `stage id ${name}`;
  if (path.length === 1 && container === 'vars') return `var name ${name}`;
  return `key ${name} in ${describe(path)}`;
}

function matches(text: string, pattern: string): boolean {
  try {
    return new RegExp(pattern).test(text);
  } catch {
    return false;
  }
}

/** Why a key written `null` or `~` is not the name it looks like. */
const NULL_KEY_HINT = ': YAML reads an unquoted null or ~ as no value, which names nothing';

/**
 * The key as written when YAML read it as null (`null:`, `~:`, `NULL:`), which the data names
 * "": messages then name what the user sees, not an empty string.
 */
function writtenNull(text: string | undefined, key: string): string | undefined {
  return key === '' && text !== undefined && /^(?:null|Null|NULL|~)$/.test(text) ? text : undefined;
}

/** `; e.g. "face-edit"` for a name that only breaks the pattern by case, spaces or punctuation. */
function fixedSpelling(value: string, pattern: string): string {
  const slug = value
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '');
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch {
    return '';
  }
  // Stage ids keep "_"; recipe names do not allow it.
  const fixed = [slug, slug.replace(/_+/g, '-')].find((s) => s !== '' && s !== value && re.test(s));
  return fixed === undefined ? '' : `, e.g. "${fixed}"`;
}

/** `15m` for `15 minutes`, `2h` for `2 hours`: the spellings people try first. */
function durationSpelling(value: string): string | undefined {
  const match = /^\s*([1-9][0-9]*)\s*(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)\s*$/i.exec(
    value,
  );
  return match ? `${match[1]!}${match[2]!.charAt(0).toLowerCase()}` : undefined;
}

/** Explains the few patterns our schemas use, in words. */
function patternHint(pattern: string): string {
  switch (pattern) {
    case '^[a-z0-9][a-z0-9-]*$':
      return 'use lowercase letters, digits and "-", starting with a letter or digit';
    case '^[a-z][a-z0-9_-]*$':
      return 'use lowercase letters, digits, "_" and "-", starting with a lowercase letter';
    case '^[A-Za-z_][A-Za-z0-9_-]*$':
      return 'use letters, digits, "_" and "-", starting with a letter or "_"';
    case '^[1-9][0-9]*(s|m|h|d)$':
      return 'write a duration as a whole number and a unit s, m, h or d, e.g. 90s, 15m, 2h';
    case '^[0-9]{4}-[0-9]{2}-[0-9]{2}$':
      return 'write a date as YYYY-MM-DD';
    default:
      return `it must match ${pattern}`;
  }
}

function typeWords(type: unknown): string {
  const names = (Array.isArray(type) ? type : String(type).split(',')).map((t) => String(t).trim());
  const words = names.map((t) => {
    switch (t) {
      case 'object':
        return 'a mapping';
      case 'array':
        return 'a list';
      case 'string':
        return 'a string';
      case 'integer':
        return 'an integer';
      case 'number':
        return 'a number';
      case 'boolean':
        return 'true or false';
      case 'null':
        return 'null';
      default:
        return t;
    }
  });
  if (words.length <= 1) return words[0] ?? 'something else';
  return `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]!}`;
}

function firstSentence(text: string): string {
  const end = text.indexOf('. ');
  return (end > 0 ? text.slice(0, end) : text.replace(/\.$/, '')).replace(/^./, (c) => c.toLowerCase());
}
