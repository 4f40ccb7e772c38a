/**
 * The ONNX op registry: every supported operator, by domain, type and opset version, mapped onto
 * Bastion's tensor ops (so libtorch's autograd differentiates imported graphs like any model).
 *
 * An op file (`ops/*.ts`) calls {@link defineOp} once per operator with one kernel per opset
 * version at which the operator's semantics changed (`since`); a node of a model importing opset
 * N runs the kernel with the largest `since <= N`. Kernels never modify their inputs, and run
 * inside a scope: temporaries they create are freed when they return.
 */
import type { Tensor } from '../../tensor/index.js';
import type { OnnxAttributeValue, OnnxGraph, OnnxNode } from '../../io/onnx.js';
import { BastionError } from '../../util/errors.js';

/** What a kernel sees of the node it runs. */
export interface OnnxOpContext {
  readonly node: OnnxNode;
  /** The opset version of the node's domain that the model imports. */
  readonly opset: number;
  /** Whether the network is in training mode (Dropout active). */
  readonly training: boolean;
  /** Number of inputs the node lists (absent optional ones included, as ''). */
  readonly inputCount: number;
  /** Input `i`; throws an error naming the node if it is absent. */
  input(i: number): Tensor;
  /** Input `i`, or null when absent ('' or beyond the list). */
  optionalInput(i: number): Tensor | null;
  /** The integer values of (small) input `i`, or null when absent; cached for constant inputs. */
  inputInts(i: number): number[] | null;
  /** The float values of (small) input `i`, or null when absent. */
  inputFloats(i: number): number[] | null;
  /** Whether attribute `name` is set. */
  has(name: string): boolean;
  attrInt(name: string, fallback?: number): number;
  attrInts(name: string, fallback?: readonly number[]): number[];
  attrFloat(name: string, fallback?: number): number;
  attrFloats(name: string, fallback?: readonly number[]): number[];
  attrString(name: string, fallback?: string): string;
  attrStrings(name: string, fallback?: readonly string[]): string[];
  /** A tensor attribute as a Bastion tensor (freed with the kernel's scope unless returned). */
  attrTensor(name: string): Tensor;
  attrGraph(name: string): OnnxGraph;
  /** The raw attribute value, or undefined. */
  attr(name: string): OnnxAttributeValue | undefined;
  /** An error naming the node, its op and opset: for inputs or attributes the kernel cannot handle. */
  fail(problem: string, hint?: string): BastionError;
}

/** Computes a node's outputs (one tensor, or one per output in order). */
export type OnnxKernel = (ctx: OnnxOpContext) => Tensor | Tensor[];

/** One operator: kernels by the opset version from which each applies. */
export interface OnnxOpDefinition {
  opType: string;
  /** '' (default ONNX domain) unless given, e.g. 'com.microsoft'. */
  domain?: string;
  /** Kernels keyed by the first opset version they implement. */
  versions: Record<number, OnnxKernel>;
  /**
   * Input positions that carry shapes, axes or other small constants rather than data (e.g.
   * Reshape's shape, Resize's scales): float initializers read there are constants, never
   * trainable parameters.
   */
  constantInputs?: readonly number[];
}

const registry = new Map<string, { since: number; kernel: OnnxKernel }[]>();
const constantInputsOf = new Map<string, readonly number[]>();

function key(domain: string, opType: string): string {
  return domain === '' || domain === 'ai.onnx' ? opType : `${domain}::${opType}`;
}

/** Adds an operator to the registry (its versions sorted; a second definition of the same op is an error). */
export function defineOp(definition: OnnxOpDefinition): void {
  const k = key(definition.domain ?? '', definition.opType);
  if (registry.has(k)) throw new Error(`ONNX op ${k} is defined twice`);
  const versions = Object.entries(definition.versions)
    .map(([since, kernel]) => ({ since: Number(since), kernel }))
    .sort((a, b) => a.since - b.since);
  registry.set(k, versions);
  if (definition.constantInputs) constantInputsOf.set(k, definition.constantInputs);
}

/** The kernel for a node of `domain`/`opType` in a model importing `opset`, or null if unsupported. */
export function findKernel(domain: string, opType: string, opset: number): OnnxKernel | null {
  const versions = registry.get(key(domain, opType));
  if (!versions) return null;
  let found: OnnxKernel | null = null;
  for (const v of versions) if (v.since <= opset) found = v.kernel;
  return found;
}

/** The first opset version a supported op is implemented for, or null when it is not supported. */
export function firstSupportedOpset(domain: string, opType: string): number | null {
  return registry.get(key(domain, opType))?.[0]?.since ?? null;
}

/** Input positions of an op that hold constants (see {@link OnnxOpDefinition.constantInputs}). */
export function constantInputs(domain: string, opType: string): readonly number[] {
  return constantInputsOf.get(key(domain, opType)) ?? [];
}

/** Every supported op as `Type` (default domain) or `domain::Type`, sorted. */
export function supportedOps(): string[] {
  return [...registry.keys()].sort();
}
