/** The names of a checkpoint folder's files (no native dependencies, so the CLI can declare them cheaply). */

/** File names inside a checkpoint directory. */
export const CHECKPOINT_FILES = {
  weights: 'model.safetensors',
  meta: 'model.json',
  trainTensors: 'train-state.safetensors',
  trainMeta: 'train-state.json',
} as const;

/** What may sit in a checkpoint folder: its files and an imported model's graph file. */
export const CHECKPOINT_OWNS: readonly (string | RegExp)[] = [...Object.values(CHECKPOINT_FILES), /^model\.(onnx|pt)$/];

