/**
 * Deterministic tensor lifetime: `scope(fn)` frees every tensor created while `fn` runs, except
 * the tensors `fn` returns (which move to the enclosing scope) and those marked with `keep()`.
 *
 * Why: a libtorch tensor's memory lives outside the JavaScript heap, and waiting for the garbage
 * collector to release intermediates halves training speed (DESIGN.md). Inside a training loop,
 * wrap each step in `scope()` and nothing waits for the collector.
 */

/** Something a scope can free: a tensor, in practice. */
export interface ScopedResource {
  /** Releases the native memory now. Idempotent. */
  dispose(): void;
  /** True once `keep()` has exempted it from every scope. */
  readonly kept: boolean;
}

/** Marks values that scope() looks for in a callback's return value. */
export const scopedBrand: unique symbol = Symbol('bastion.scoped');

let current: ScopedResource[] | null = null;
const outer: (ScopedResource[] | null)[] = [];

/** Registers a freshly created resource with the innermost open scope (if any). */
export function track(resource: ScopedResource): void {
  if (current !== null) current.push(resource);
}

/** Number of scopes currently open (0 outside any scope). */
export function scopeDepth(): number {
  return outer.length;
}

/** Whether a callback returned a promise (the regions of src/tensor — scopes, grad mode, autocast — must be synchronous). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

/** Collects the scoped resources reachable from a return value (arrays, plain objects, Maps). */
function collect(value: unknown, into: Set<ScopedResource>, depth: number): void {
  if (value === null || typeof value !== 'object' || depth > 6) return;
  if ((value as { [scopedBrand]?: boolean })[scopedBrand] === true) {
    into.add(value as ScopedResource);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, into, depth + 1);
    return;
  }
  if (value instanceof Map) {
    for (const v of value.values()) collect(v, into, depth + 1);
    return;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto === Object.prototype || proto === null) {
    for (const v of Object.values(value as Record<string, unknown>)) collect(v, into, depth + 1);
  }
}

/**
 * Runs `fn` and frees every tensor it created, except those it returns (found in arrays, plain
 * objects and Maps up to a small depth) and those marked with `keep()`. Returned tensors are handed
 * to the enclosing scope, so nested scopes compose. If `fn` throws, everything it created is freed.
 * `fn` must be synchronous: interleaving async work would mix up which scope owns what.
 */
export function scope<T>(fn: () => T): T {
  const created: ScopedResource[] = [];
  outer.push(current);
  current = created;
  let result: T;
  try {
    result = fn();
  } catch (error) {
    current = outer.pop() ?? null;
    for (const r of created) if (!r.kept) r.dispose();
    throw error;
  }
  current = outer.pop() ?? null;
  if (isThenable(result)) {
    for (const r of created) if (!r.kept) r.dispose();
    throw new TypeError(
      'scope() callback returned a Promise; scopes must be synchronous. Await outside the scope and ' +
        'wrap each synchronous step (e.g. one training batch) in its own scope().',
    );
  }
  if (created.length === 0) return result;
  const escaping = new Set<ScopedResource>();
  collect(result, escaping, 0);
  for (const r of created) {
    if (r.kept) continue;
    if (escaping.has(r)) {
      if (current !== null) current.push(r);
    } else {
      r.dispose();
    }
  }
  return result;
}
