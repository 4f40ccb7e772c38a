/**
 * Warnings of the `bastion` commands: one `warning: ...` line each, on the CLI's error stream
 * (main() points it at its own stderr hook, so in-process callers capture warnings too).
 */

let sink: (text: string) => void = (text) => void process.stderr.write(text);

/** Prints `warning: <message>` on the CLI's error stream. */
export function warn(message: string): void {
  sink(`warning: ${message}\n`);
}

/** Sends warnings to `write` until the returned function restores the previous destination. */
export function redirectWarnings(write: (text: string) => void): () => void {
  const previous = sink;
  sink = write;
  return () => {
    sink = previous;
  };
}
