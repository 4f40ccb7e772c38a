/**
 * Lookups in plain-object tables by strings that come from users or files. `table[name]` would
 * find inherited members for names such as `__proto__`, `constructor` or `toString`; these helpers
 * only see the table's own entries.
 */

/** The table's own entry for `key`, or undefined (never an inherited Object member). */
export function ownEntry<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** True when `key` is one of the table's own entries (not an inherited Object member). */
export function hasOwnEntry(table: object, key: string): boolean {
  return Object.hasOwn(table, key);
}
