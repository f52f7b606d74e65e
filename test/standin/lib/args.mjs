// Command-line parsing, mimicking the client's clap parser (contract §1, §10.1).
//
// - Global flags (--output, -q/--quiet, -v/--verbose, -h/--help, -V/--version) are accepted
//   before or after the subcommand; subcommand flags only after it.
// - `--flag value` and `--flag=value`; short flags may be clustered (`-vv`, `-qv`).
// - Every problem is a usage error: plain clap-style text on stderr and exit 2, whatever
//   --output says. Help and version go to stdout with exit 0; the first of them wins, as in clap,
//   which acts on them as soon as it meets them.
// - A value-taking flag followed by something that looks like a flag (`--poll-secs -1`) has no
//   value, as in clap without allow_hyphen_values; `-` alone is a value (stdin).
//
// Output: a discriminated union, {kind: 'help' | 'version' | 'usage-error' | 'command'}.

export const VERSION_LINE = 'runcomfy 0.2.0 (standin, unknown)';

/** Flag definitions. `value`: the clap value name, for flags that take one. */
const GLOBAL_FLAGS = [
  { long: '--output', key: 'output', value: 'OUTPUT' },
  { long: '--quiet', short: 'q', key: 'quiet' },
  { long: '--verbose', short: 'v', key: 'verbose', count: true },
  { long: '--help', short: 'h', key: 'help' },
  { long: '--version', short: 'V', key: 'version' },
];
const DOWNLOAD_FLAGS = [
  { long: '--output-dir', key: 'outputDir', value: 'DIR' },
  { long: '--no-download', key: 'noDownload' },
];
const RUN_FLAGS = [
  { long: '--input', key: 'input', value: 'JSON' },
  { long: '--input-file', key: 'inputFile', value: 'PATH' },
  { long: '--no-wait', key: 'noWait' },
  { long: '--poll-secs', key: 'pollSecs', value: 'POLL_SECS' },
  ...DOWNLOAD_FLAGS,
];

/** Leaf commands: what the stand-in simulates. `name` is what dispatch switches on. */
const RUN = { name: 'run', positional: 'MODEL_ID', flags: RUN_FLAGS };
const STATUS = { name: 'status', positional: 'REQUEST_ID', flags: [] };
const RESULT = { name: 'result', positional: 'REQUEST_ID', flags: DOWNLOAD_FLAGS };
const CANCEL = { name: 'cancel', positional: 'REQUEST_ID', flags: [] };

/** Command tree. `requests get|result|cancel` are aliases (contract §4). */
const ROOT = {
  subcommands: {
    run: RUN,
    status: STATUS,
    result: RESULT,
    cancel: CANCEL,
    requests: { subcommands: { get: STATUS, result: RESULT, cancel: CANCEL } },
  },
};

/** Real client commands the stand-in does not simulate: parsed, then refused by dispatch. */
const UNSIMULATED = new Set([
  'login',
  'logout',
  'whoami',
  'models',
  'balance',
  'deployments',
  'deploy',
  'datasets',
  'train',
  'completion',
]);

/**
 * @param {string[]} argv arguments after the program name
 * @returns {{kind: 'help', text: string} | {kind: 'version', text: string}
 *   | {kind: 'usage-error', text: string}
 *   | {kind: 'command', name: string, path: string[], positional: string, global: Globals, options: object}}
 *
 * @typedef {{output: 'pretty' | 'json', quiet: boolean, verbose: number}} Globals
 */
export function parseArgs(argv) {
  const path = [];
  let node = ROOT;
  const values = {}; // key → value (string | true | count)
  const spelled = {}; // key → how clap names it in messages, e.g. "--input <JSON>"
  let positional;
  let onlyPositional = false;

  const usage = (message) => ({ kind: 'usage-error', text: usageText(message, path, node) });
  const flagsInScope = () => [...GLOBAL_FLAGS, ...(node.flags ?? [])];

  // Apply one flag occurrence; returns a parse result to stop with, or undefined to go on.
  const apply = (flag, value) => {
    if (flag.key === 'help') return { kind: 'help', text: helpText(path, node) };
    if (flag.key === 'version') return { kind: 'version', text: VERSION_LINE };
    if (flag.count) {
      values[flag.key] = (values[flag.key] ?? 0) + 1;
      spelled[flag.key] = `${flag.long}...`;
      return undefined;
    }
    const name = flag.value ? `${flag.long} <${flag.value}>` : flag.long;
    if (flag.key in values) return usage(`the argument '${name}' cannot be used multiple times`);
    spelled[flag.key] = name;
    if (flag.key === 'output' && value !== 'pretty' && value !== 'json') {
      return usage(`invalid value '${value}' for '${name}'\n  [possible values: pretty, json]`);
    }
    if (flag.key === 'pollSecs') {
      const problem = u64Problem(value);
      if (problem) return usage(`invalid value '${value}' for '${name}': ${problem}`);
    }
    values[flag.key] = value ?? true;
    return undefined;
  };

  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (!onlyPositional && token === '--') {
      onlyPositional = true;
      continue;
    }
    if (!onlyPositional && token.startsWith('--')) {
      const eq = token.indexOf('=');
      const long = eq === -1 ? token : token.slice(0, eq);
      const inline = eq === -1 ? undefined : token.slice(eq + 1);
      const flag = flagsInScope().find((f) => f.long === long);
      if (!flag) return usage(`unexpected argument '${long}' found`);
      let value = inline;
      if (flag.value && value === undefined) {
        const next = argv[i + 1];
        if (next === undefined || (next.startsWith('-') && next !== '-')) {
          return usage(`a value is required for '${flag.long} <${flag.value}>' but none was supplied`);
        }
        value = next;
        i++;
      } else if (!flag.value && value !== undefined) {
        return usage(`unexpected value '${value}' for '${flag.long}' found; no more were expected`);
      }
      const stop = apply(flag, value);
      if (stop) return stop;
      continue;
    }
    if (!onlyPositional && token.startsWith('-') && token !== '-') {
      // A cluster of short flags. None of ours takes a value.
      for (const letter of token.slice(1)) {
        const flag = flagsInScope().find((f) => f.short === letter);
        if (!flag) return usage(`unexpected argument '-${letter}' found`);
        const stop = apply(flag, undefined);
        if (stop) return stop;
      }
      continue;
    }
    if (node.subcommands) {
      if (UNSIMULATED.has(token) && node === ROOT) {
        return {
          kind: 'command',
          name: 'unsimulated',
          path: [token],
          positional: token,
          global: globalsOf(values),
          options: {},
        };
      }
      const next = node.subcommands[token];
      if (!next) return usage(`unrecognized subcommand '${token}'`);
      path.push(token);
      node = next;
      continue;
    }
    if (positional !== undefined) return usage(`unexpected argument '${token}' found`);
    positional = token;
  }

  if (node.subcommands) {
    const name = ['runcomfy', ...path].join(' ');
    return usage(`'${name}' requires a subcommand but one was not provided`);
  }
  if ('input' in values && 'inputFile' in values) {
    return usage(`the argument '${spelled.input}' cannot be used with '${spelled.inputFile}'`);
  }
  if ('quiet' in values && 'verbose' in values) {
    return usage(`the argument '${spelled.quiet}' cannot be used with '${spelled.verbose}'`);
  }
  if (positional === undefined) {
    return usage(`the following required arguments were not provided:\n  <${node.positional}>`);
  }

  return {
    kind: 'command',
    name: node.name,
    path,
    positional,
    global: globalsOf(values),
    options: {
      input: values.input,
      inputFile: values.inputFile,
      noWait: values.noWait === true,
      pollSecs: values.pollSecs === undefined ? 2 : Number(BigInt(values.pollSecs)),
      outputDir: values.outputDir ?? '.',
      noDownload: values.noDownload === true,
    },
  };
}

function globalsOf(values) {
  return { output: values.output ?? 'pretty', quiet: values.quiet === true, verbose: values.verbose ?? 0 };
}

/** Why `text` is not a u64 as Rust's `str::parse::<u64>` reads it, or undefined if it is. */
function u64Problem(text) {
  if (text === '') return 'cannot parse integer from empty string';
  if (!/^\+?[0-9]+$/.test(text)) return 'invalid digit found in string';
  if (BigInt(text) > 2n ** 64n - 1n) return 'number too large to fit in target type';
  return undefined;
}

function usageLine(path, node) {
  const name = ['runcomfy', ...path].join(' ');
  if (node.subcommands) return `Usage: ${name} [OPTIONS] <COMMAND>`;
  return `Usage: ${name} [OPTIONS] <${node.positional}>`;
}

function usageText(message, path, node) {
  return `error: ${message}\n\n${usageLine(path, node)}\n\nFor more information, try '--help'.`;
}

function helpText(path, node) {
  const lines = [
    'RunComfy CLI — run AI media models on RunComfy (test stand-in)',
    '',
    usageLine(path, node),
    '',
  ];
  if (node.subcommands) {
    lines.push('Commands:', ...Object.keys(node.subcommands).map((name) => `  ${name}`), '');
  }
  lines.push('Options:');
  for (const flag of [...(node.flags ?? []), ...GLOBAL_FLAGS]) {
    const short = flag.short ? `-${flag.short}, ` : '    ';
    lines.push(`  ${short}${flag.long}${flag.value ? ` <${flag.value}>` : ''}`);
  }
  return lines.join('\n');
}
