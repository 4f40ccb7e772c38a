/**
 * One-node ONNX graphs built in memory, for testing op kernels without model files: name the
 * node's inputs, which of them the caller feeds, and constant initializers for the rest.
 */
import type { OnnxAttributeValue, OnnxElementType, OnnxModel, OnnxTensorData } from '../../src/io/onnx.js';
import { OnnxNetwork } from '../../src/models/onnx/graph.js';
import { tensor, type Tensor } from '../../src/tensor/index.js';

/** A constant input of the node (an initializer). */
export interface ConstantSpec {
  values: readonly (number | bigint)[];
  dims?: readonly number[];
  type?: 'int64' | 'float32' | 'float64';
}

/** The node of {@link singleNode}. */
export interface NodeSpec {
  /** The node's input names in order ('' for an absent optional input). */
  inputs: readonly string[];
  /** Names among `inputs` fed by the caller, in the order `run` takes them (default: those not constant). */
  feeds?: readonly string[];
  constants?: Record<string, ConstantSpec>;
  attributes?: Record<string, OnnxAttributeValue>;
  /** Number of outputs (default 1). */
  outputs?: number;
  /** Opset of the default domain (default 17). */
  opset?: number;
}

function constantData(name: string, spec: ConstantSpec): OnnxTensorData {
  const type: OnnxElementType = spec.type ?? 'int64';
  const dims = [...(spec.dims ?? [spec.values.length])];
  const values =
    type === 'int64'
      ? BigInt64Array.from(spec.values, (v) => (typeof v === 'bigint' ? v : BigInt(v)))
      : type === 'float64'
        ? Float64Array.from(spec.values, Number)
        : Float32Array.from(spec.values, Number);
  return { name, elementType: type, dims, values };
}

/** A network of one `opType` node (outputs y0, y1, ...). */
export function singleNode(opType: string, spec: NodeSpec): OnnxNetwork {
  const constants = spec.constants ?? {};
  const feeds = spec.feeds ?? spec.inputs.filter((n) => n !== '' && !(n in constants));
  const outputs = Array.from({ length: spec.outputs ?? 1 }, (_, i) => `y${i}`);
  const model: OnnxModel = {
    file: `<${opType} test node>`,
    irVersion: 8,
    producer: 'bastion-test',
    opsets: new Map([['', spec.opset ?? 17]]),
    functionNames: [],
    externalFiles: [],
    graph: {
      name: 'test',
      nodes: [{ name: `${opType}#0`, opType, domain: '', inputs: [...spec.inputs], outputs, attributes: new Map(Object.entries(spec.attributes ?? {})) }],
      initializers: new Map(Object.entries(constants).map(([name, c]) => [name, constantData(name, c)])),
      inputs: feeds.map((name) => ({ name, elementType: 'float32', shape: null })),
      outputs: outputs.map((name) => ({ name, elementType: 'float32', shape: null })),
      valueInfo: new Map(),
    },
  };
  return new OnnxNetwork(model);
}

/** Attribute constructors. */
export const attr = {
  int: (value: number): OnnxAttributeValue => ({ type: 'int', value }),
  ints: (value: number[]): OnnxAttributeValue => ({ type: 'ints', value }),
  float: (value: number): OnnxAttributeValue => ({ type: 'float', value }),
  floats: (value: number[]): OnnxAttributeValue => ({ type: 'floats', value }),
  string: (value: string): OnnxAttributeValue => ({ type: 'string', value }),
};

/** Deterministic pseudo-random numbers in [-1, 1) (a small LCG; the same for a seed everywhere). */
export function noise(count: number, seed = 1): number[] {
  let state = seed >>> 0 || 1;
  return Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  });
}

/** A float64 tensor of noise with gradients recorded (for gradcheck). */
export function noiseTensor(shape: readonly number[], seed = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(Float64Array.from(noise(n, seed)), { shape, dtype: 'float64' }).requiresGrad_(true);
}

/** The network's first output on `inputs`. */
export function runNode(net: OnnxNetwork, inputs: readonly Tensor[]): Tensor {
  const { outputs } = net.run(inputs);
  for (const extra of outputs.slice(1)) extra.dispose();
  return outputs[0] as Tensor;
}
