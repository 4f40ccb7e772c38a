/** Small helpers shared by the layer files (not exported from src/nn). */

/** `key=value` pairs of the settings that differ from their defaults, for Module.toString(). */
export function formatOptions(values: Record<string, unknown>, defaults: Record<string, unknown> = {}): string {
  return Object.entries(values)
    .filter(([k, v]) => v !== undefined && JSON.stringify(v) !== JSON.stringify(defaults[k]))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ');
}
