/**
 * Marks the end of an exhaustive `switch`. Adding a member to a union then becomes a compile
 * error at every switch that forgot it, instead of a silent fall-through at run time.
 */
export function unreachable(value: never): never {
  throw new Error(`unreachable: unexpected value ${JSON.stringify(value)}`);
}
