import type { ModelId } from '../catalog/model.js';
import type { RouteDecision } from '../plan/route.js';
import type { JsonValue } from '../util/json.js';
import type { AccessSegment, Template } from './expressions.js';
import type { SourceFile } from './source.js';
import type { DataPath, YamlIndex } from './yaml-index.js';

/** A stage id as written under `stages:`. Branded so it cannot be mixed up with model ids. */
export type StageId = string & { readonly __brand: 'StageId' };

/** What a stage id may look like (the recipe schema's pattern for stage keys and `needs`). */
export const STAGE_ID_PATTERN = /^[a-z][a-z0-9_-]*$/;

/** Outcomes a stage may opt in to retry, on top of the always-retryable ones. */
export type RetryOn = 'failed' | 'cancelled';

/**
 * A value as written in the recipe, with its expressions parsed once. `literal` subtrees hold
 * no expression at all; `template` is a string with `${{ }}` in it. The runner evaluates a
 * node against finished stages to get the JSON body a model receives.
 */
export type ValueNode =
  | { readonly kind: 'literal'; readonly value: JsonValue }
  | { readonly kind: 'template'; readonly template: Template; readonly path: DataPath }
  | { readonly kind: 'list'; readonly items: readonly ValueNode[] }
  | { readonly kind: 'map'; readonly entries: readonly (readonly [string, ValueNode])[] };

/** A reference from one stage's expressions to another stage's results. */
export interface StageReference {
  readonly stage: StageId;
  /** The access path below `stages.<id>`, e.g. `['outputs', 'images', 0]`. */
  readonly path: readonly AccessSegment[];
  /** Where in the recipe's data the expression sits. */
  readonly at: DataPath;
  /**
   * Where in that value's text (`source`) the reference is written. Mapped to a source range
   * only when a diagnostic needs it: doing it for every reference cost a tenth of analysing a
   * 10,000-stage recipe.
   */
  readonly source: string;
  readonly offset: number;
  readonly length: number;
}

/** A stage as the user wrote it, defaults applied. What to run, not what happened. */
export interface StageSpec {
  readonly id: StageId;
  readonly description?: string;
  /** The model as written; `undefined` for a `swap:` stage whose route is chosen later. */
  readonly model?: ModelId;
  readonly input: ValueNode;
  readonly swap?: ValueNode;
  readonly foreach?: ValueNode;
  /** Explicit `needs`, as written. */
  readonly needs: readonly StageId[];
  readonly references: readonly StageReference[];
  /** `needs` plus every referenced stage: the stage's dependencies, sorted, without duplicates. */
  readonly dependsOn: readonly StageId[];
  readonly retries: number;
  readonly timeoutMs: number;
  readonly retryOn: readonly RetryOn[];
  readonly subjects: readonly string[];
  /**
   * How a fan-out stage's per-job outputs become `stages.<id>.outputs`. Absent: the list of
   * per-item outputs, in item order (`foreach`). `images`: one `{images: [...]}` with every
   * job's images concatenated in job order (a batch split into chunks by the router).
   */
  readonly merge?: 'images';
  /**
   * For a `swap:` stage: the router's decision. Analysis has then filled `model`, `input` (and
   * `foreach`/`merge` for a batch split into calls) from it, so the stage runs like any other.
   */
  readonly route?: RouteDecision;
}

/** `defaults.concurrency_per_model`: one limit for every model, or per model id. */
export type ModelConcurrency = number | Readonly<Record<string, number>> | undefined;

/** A whole recipe, checked and typed. Built only when analysis found no errors. */
export interface Recipe {
  readonly source: SourceFile;
  readonly index: YamlIndex;
  /** sha256 of the recipe's bytes as read. */
  readonly hash: string;
  readonly name: string;
  readonly description?: string;
  /** Vars after `--set` overrides. */
  readonly vars: Readonly<Record<string, JsonValue>>;
  readonly concurrencyPerModel: ModelConcurrency;
  /** In the order written. */
  readonly stages: ReadonlyMap<StageId, StageSpec>;
  readonly cacheUrlTtlMs: number;
  /** The `consent:` block as written (checked by the consent rules). */
  readonly consent?: JsonValue;
}

export const DEFAULT_RETRIES = 2;
export const DEFAULT_TIMEOUT_MS = 15 * 60_000;
export const DEFAULT_URL_TTL_MS = 6 * 86_400_000;
