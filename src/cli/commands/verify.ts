import { Catalog } from '../../catalog/catalog.js';
import { expandVerifyTarget, verifyFile, type VerifyResult } from '../../policy/verify.js';
import { unreachable } from '../../util/unreachable.js';
import { ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';

/**
 * `faceswap-pipe verify <file...>`: each output file against its provenance record. One line per
 * file on stdout (`ok …`), problems on stderr (`FAIL …` and one indented line per problem).
 * Exit 0 when every file passes, 65 when any record does not match (or is missing), 66 when
 * the only problem is a file that does not exist.
 */
export async function verifyCommand(files: readonly string[], io: CliIo): Promise<number> {
  const results: VerifyResult[] = [];
  // The built-in catalog says which models swap faces: a record claiming otherwise is caught.
  const faceSwapModels = new Set(
    Catalog.load()
      .all()
      .filter((m) => m.faceSwap)
      .map((m) => m.id as string),
  );
  for (const given of files) {
    for (const { file, path, expected } of await expandVerifyTarget(given, io.cwd)) {
      const result = await verifyFile(file, path, io.env, { ...(expected && { expected }), faceSwapModels });
      results.push(result);
      print(io, result);
    }
  }
  if (results.length === 0) {
    // A manifest that lists nothing (a run that delivered no file) proves nothing either way.
    io.stderr.write('faceswap-pipe: error: nothing to verify: the manifest lists no files\n');
    return ExitCode.dataError;
  }
  const failed = results.filter((r) => r.status === 'failed').length;
  const missing = results.filter((r) => r.status === 'missing').length;
  const passed = results.length - failed - missing;
  const summary = `${passed} of ${results.length} file${results.length === 1 ? '' : 's'} verified`;
  if (failed + missing === 0) {
    io.stdout.write(`${summary}\n`);
    return ExitCode.ok;
  }
  io.stderr.write(`${summary}; ${failed + missing} failed\n`);
  return failed > 0 ? ExitCode.dataError : ExitCode.noInput;
}

function print(io: CliIo, result: VerifyResult): void {
  switch (result.status) {
    case 'ok': {
      const label =
        result.label === null
          ? 'no label (not a face-swap stage)'
          : `label "${result.label}" ${result.embedded}`;
      const subjects = result.subjects.length === 0 ? '' : `; subjects ${result.subjects.join(', ')}`;
      io.stdout.write(`ok ${result.file}: sha256 matches; ${label}${subjects}\n`);
      return;
    }
    case 'failed':
      io.stderr.write(`FAIL ${result.file}:\n${result.problems.map((p) => `  - ${p}\n`).join('')}`);
      return;
    case 'missing':
      io.stderr.write(`FAIL ${result.file}: ${result.message}\n`);
      return;
    default:
      unreachable(result);
  }
}
