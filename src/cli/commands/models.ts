import { ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { loadCatalog } from '../recipe-io.js';

/** `faceswap-pipe models`: the catalog, as a table or JSON. */
export function modelsCommand(
  options: { format: 'text' | 'json'; catalog: readonly string[] },
  io: CliIo,
): number {
  const catalog = loadCatalog(io, options.catalog);
  if ('exit' in catalog) return catalog.exit;
  const models = catalog.all();
  if (options.format === 'json') {
    const out = models.map((m) => ({
      id: m.id,
      title: m.title,
      description: m.description,
      medium: m.medium,
      backend: m.backend,
      faceSwap: m.faceSwap,
      fields: m.fields,
      requiredOneOf: m.requiredOneOf,
      schemaHash: m.schemaHash,
      ...(m.notes && { notes: m.notes }),
    }));
    io.stdout.write(JSON.stringify(out, null, 2) + '\n');
    return ExitCode.ok;
  }
  for (const m of models) {
    io.stdout.write(`${m.id}  (${m.medium}, ${m.backend})\n  ${m.title}: ${m.summary}\n`);
    for (const f of m.fields) {
      io.stdout.write(
        `    ${f.name}${f.required ? '*' : ''}: ${f.type}${f.description ? ` - ${f.description}` : ''}\n`,
      );
    }
    if (m.requiredOneOf.length > 0)
      io.stdout.write(`    one of: ${m.requiredOneOf.map((s) => s.join(' + ')).join(' | ')}\n`);
    io.stdout.write('\n');
  }
  io.stdout.write('* required field. Schemas: schemas/models/ (override with --catalog DIR).\n');
  return ExitCode.ok;
}
