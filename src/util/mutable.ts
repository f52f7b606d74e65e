/**
 * A readonly record type made writable, for building one in a single fixed shape: the required
 * fields in one literal, then optional ones assigned. Spreading optional parts into a literal
 * (`...(x && { x })`) gave each object its own slow layout, read by every later rule.
 */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };
