/**
 * Reading ONNX model files into plain, validated structures (no tensors are made here).
 *
 * The wire format is decoded by protobufjs (the most used protobuf implementation for
 * JavaScript, maintained, pure JS, no code generation step) from ONNX's own schema,
 * `src/io/onnx.proto` (copied unchanged from ONNX 1.12, Apache-2.0); newer files decode too, since
 * protobuf skips fields it does not know. Everything a later stage relies on is checked here, so a
 * corrupt or hostile file gives one clear error naming the file and the field: truncated bytes,
 * absurd or negative dims, data whose size disagrees with its dims, values used before any node
 * produces them, cycles, duplicate producers, external data outside the model's folder.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve, relative, isAbsolute } from 'node:path';
import protobuf from 'protobufjs';
import { packageRoot } from '../tensor/native.js';
import { DataError } from '../util/errors.js';

/** Element types of ONNX tensors, under Bastion's dtype names where Bastion has the type. */
export type OnnxElementType =
  | 'float32' | 'uint8' | 'int8' | 'uint16' | 'int16' | 'int32' | 'int64' | 'string' | 'bool'
  | 'float16' | 'float64' | 'uint32' | 'uint64' | 'complex64' | 'complex128' | 'bfloat16' | 'undefined';

const ELEMENT_TYPES: readonly OnnxElementType[] = [
  'undefined', 'float32', 'uint8', 'int8', 'uint16', 'int16', 'int32', 'int64', 'string', 'bool',
  'float16', 'float64', 'uint32', 'uint64', 'complex64', 'complex128', 'bfloat16',
];

/** The ONNX element type with TensorProto.DataType code `code`. */
export function onnxElementType(code: number): OnnxElementType {
  return ELEMENT_TYPES[code] ?? 'undefined';
}

/** The numbers of a tensor, in a typed array that holds them exactly (strings as strings). */
export type OnnxTensorValues = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Int16Array | string[];

/** A constant tensor of the file: an initializer, a Constant node's value or a test input. */
export interface OnnxTensorData {
  name: string;
  elementType: OnnxElementType;
  dims: number[];
  /**
   * The values in row-major order. float16 and bfloat16 are widened to float32 and uint16 to
   * int32, uint32 and uint64 to int64 (so that every value fits a Bastion dtype).
   */
  values: OnnxTensorValues;
}

/** A graph input or output: its name, element type and shape (a dim is a number, a symbolic name or unknown). */
export interface OnnxValueInfo {
  name: string;
  elementType: OnnxElementType;
  shape: (number | string | null)[] | null;
}

/** An attribute value, by the attribute's declared type. */
export type OnnxAttributeValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: OnnxTensorData }
  | { type: 'graph'; value: OnnxGraph }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'tensors'; value: OnnxTensorData[] }
  | { type: 'graphs'; value: OnnxGraph[] }
  | { type: 'unsupported'; value: string };

/** One node of the graph. Absent optional inputs are ''. */
export interface OnnxNode {
  /** The node's name, or `<opType>#<index>` when the file gives none. */
  name: string;
  opType: string;
  /** '' for the default ONNX domain ('ai.onnx'). */
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, OnnxAttributeValue>;
}

/** A graph: nodes in a valid execution order (topologically sorted here if the file is not). */
export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: Map<string, OnnxTensorData>;
  /** Graph inputs that are not initializers: what the caller feeds. */
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  /** Shapes the file records for intermediate values (often empty). */
  valueInfo: Map<string, OnnxValueInfo>;
}

/** A parsed model file. */
export interface OnnxModel {
  file: string;
  irVersion: number;
  producer: string;
  /** Opset version per domain ('' is the default ONNX domain). */
  opsets: Map<string, number>;
  graph: OnnxGraph;
  /** Functions defined in the file (model-local functions are not executed; listed for errors). */
  functionNames: string[];
  /** External data files the initializers read, relative to the model's folder. */
  externalFiles: string[];
}

/** Largest element count accepted for one tensor (2^31 - 1, far beyond any classifier's layer). */
const MAX_ELEMENTS = 2 ** 31 - 1;
/** Nesting limit for subgraphs (If/Loop bodies) in attributes. */
const MAX_GRAPH_DEPTH = 16;

let schema: { model: protobuf.Type; tensor: protobuf.Type } | null = null;

function onnxSchema(): { model: protobuf.Type; tensor: protobuf.Type } {
  if (schema) return schema;
  const root = protobuf.loadSync(join(packageRoot, 'src', 'io', 'onnx.proto'));
  schema = { model: root.lookupType('onnx.ModelProto'), tensor: root.lookupType('onnx.TensorProto') };
  return schema;
}

type Long = { toNumber(): number; low: number; high: number; unsigned: boolean };
type Int64 = number | Long;

/**
 * An int64 attribute value as a number: exporters write INT64_MAX/MIN as "to the end" in Slice
 * bounds and the like, so values beyond JavaScript's exact range are clamped to it (kernels treat
 * them as unbounded), not refused as dims are.
 */
function attributeInt(value: Int64 | undefined | null): number {
  if (value === undefined || value === null) return 0;
  const n = typeof value === 'number' ? value : value.toNumber();
  return Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, n));
}

function int64(value: Int64 | undefined | null, file: string, field: string): number {
  if (value === undefined || value === null) return 0;
  const n = typeof value === 'number' ? value : value.toNumber();
  if (!Number.isSafeInteger(n)) throw new DataError(file, `${field} = ${String(value)} is not an integer JavaScript can hold exactly`);
  return n;
}

/* The decoded protobuf messages, as protobufjs gives them (only the fields read here). */
interface TensorMessage {
  dims?: Int64[];
  dataType?: number;
  floatData?: number[];
  int32Data?: number[];
  stringData?: Uint8Array[];
  int64Data?: Int64[];
  name?: string;
  rawData?: Uint8Array;
  externalData?: { key?: string; value?: string }[];
  dataLocation?: number;
  doubleData?: number[];
  uint64Data?: Int64[];
  segment?: unknown;
}
interface AttributeMessage {
  name?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorMessage;
  g?: GraphMessage;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  tensors?: TensorMessage[];
  graphs?: GraphMessage[];
  refAttrName?: string;
}
interface NodeMessage {
  input?: string[];
  output?: string[];
  name?: string;
  opType?: string;
  domain?: string;
  attribute?: AttributeMessage[];
}
interface TypeMessage {
  tensorType?: { elemType?: number; shape?: { dim?: { dimValue?: Int64; dimParam?: string }[] } };
}
interface ValueInfoMessage {
  name?: string;
  type?: TypeMessage;
}
interface GraphMessage {
  node?: NodeMessage[];
  name?: string;
  initializer?: TensorMessage[];
  sparseInitializer?: unknown[];
  input?: ValueInfoMessage[];
  output?: ValueInfoMessage[];
  valueInfo?: ValueInfoMessage[];
}
interface ModelMessage {
  irVersion?: Int64;
  opsetImport?: { domain?: string; version?: Int64 }[];
  producerName?: string;
  producerVersion?: string;
  graph?: GraphMessage;
  functions?: { name?: string }[];
}

/** Where a tensor's bytes may come from: the model's folder, for external data. */
interface ParseContext {
  file: string;
  baseDir: string | null;
  /** External data locations read so far. */
  external?: Set<string>;
}

const utf8 = new TextDecoder('utf-8');

function decodeWith<T>(type: protobuf.Type, bytes: Uint8Array, file: string, what: string): T {
  try {
    return type.decode(bytes) as unknown as T;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new DataError(file, `is not a valid ONNX ${what} (protobuf decoding failed: ${reason})`, 'the file may be truncated or not an ONNX file; export it again');
  }
}

/** Parses a model from its bytes; `file` names it in errors, external data is read relative to its folder. */
export function parseOnnxModel(bytes: Uint8Array, file: string, options: { baseDir?: string | null } = {}): OnnxModel {
  const { model: modelType } = onnxSchema();
  const message = decodeWith<ModelMessage>(modelType, bytes, file, 'model');
  if (!message.graph) throw new DataError(file, 'has no graph: not an ONNX model (or an empty one)', 'pass a model exported with torch.onnx.export, tf2onnx or similar');
  const context: ParseContext = { file, baseDir: options.baseDir === undefined ? dirname(resolve(file)) : options.baseDir, external: new Set() };
  const opsets = new Map<string, number>();
  for (const entry of message.opsetImport ?? []) {
    const domain = entry.domain === 'ai.onnx' ? '' : entry.domain ?? '';
    opsets.set(domain, int64(entry.version, file, `opset_import[${domain || 'ai.onnx'}]`));
  }
  const irVersion = int64(message.irVersion, file, 'ir_version');
  // Very old files (IR version < 3) imply opset 1; newer ones that import no default opset may use
  // only other domains (a node of the default domain is then reported as not imported).
  if (!opsets.has('') && irVersion < 3) opsets.set('', 1);
  const graph = convertGraph(message.graph, context, 0, 'graph');
  return {
    file,
    irVersion,
    producer: [message.producerName, message.producerVersion].filter((s) => s).join(' '),
    opsets,
    graph,
    functionNames: (message.functions ?? []).map((f) => f.name ?? '?'),
    externalFiles: [...(context.external ?? [])],
  };
}

/** Reads and parses an ONNX model file. */
export function readOnnxModel(path: string): OnnxModel {
  if (!existsSync(path)) throw new DataError(path, 'does not exist', 'check the path of the ONNX model');
  if (statSync(path).isDirectory()) throw new DataError(path, 'is a folder, not an ONNX file');
  return parseOnnxModel(readFileSync(path), path);
}

/** Parses one serialized TensorProto (the `input_0.pb` files of ONNX's test data). */
export function readOnnxTensor(path: string): OnnxTensorData {
  const bytes = readFileSync(path);
  const message = decodeWith<TensorMessage>(onnxSchema().tensor, bytes, path, 'tensor');
  return convertTensor(message, { file: path, baseDir: dirname(resolve(path)) }, 'tensor');
}

function convertValueInfo(v: ValueInfoMessage, context: ParseContext, where: string): OnnxValueInfo {
  const name = v.name ?? '';
  if (name === '') throw new DataError(context.file, `${where} has no name`);
  const tensorType = v.type?.tensorType;
  const shape = tensorType?.shape
    ? (tensorType.shape.dim ?? []).map((d) => {
        // protobufjs puts field defaults on the prototype: only an own dimValue is set in the file.
        if (Object.prototype.hasOwnProperty.call(d, 'dimValue') && d.dimValue !== undefined && d.dimValue !== null) {
          const n = int64(d.dimValue, context.file, `${where} '${name}' dim`);
          return n >= 0 ? n : null;
        }
        return d.dimParam ? d.dimParam : null;
      })
    : null;
  return { name, elementType: onnxElementType(tensorType?.elemType ?? 0), shape };
}

function convertGraph(g: GraphMessage, context: ParseContext, depth: number, where: string): OnnxGraph {
  if (depth > MAX_GRAPH_DEPTH) throw new DataError(context.file, `${where}: subgraphs nested deeper than ${MAX_GRAPH_DEPTH}`);
  if ((g.sparseInitializer ?? []).length > 0) {
    throw new DataError(context.file, `${where} holds sparse initializers, which Bastion does not read`, 'export the model with dense weights');
  }
  const initializers = new Map<string, OnnxTensorData>();
  for (const [i, t] of (g.initializer ?? []).entries()) {
    const data = convertTensor(t, context, `${where}.initializer[${i}]`);
    if (data.name === '') throw new DataError(context.file, `${where}.initializer[${i}] has no name`);
    initializers.set(data.name, data);
  }
  const inputs = (g.input ?? []).map((v, i) => convertValueInfo(v, context, `${where}.input[${i}]`)).filter((v) => !initializers.has(v.name));
  const outputs = (g.output ?? []).map((v, i) => convertValueInfo(v, context, `${where}.output[${i}]`));
  const valueInfo = new Map<string, OnnxValueInfo>();
  for (const [i, v] of (g.valueInfo ?? []).entries()) {
    const info = convertValueInfo(v, context, `${where}.value_info[${i}]`);
    valueInfo.set(info.name, info);
  }
  const nodes = (g.node ?? []).map((n, i) => convertNode(n, i, context, depth, where));
  const graph: OnnxGraph = { name: g.name ?? '', nodes, initializers, inputs, outputs, valueInfo };
  // Subgraphs may read values of the enclosing graph, so only the main graph is checked for closure.
  graph.nodes = sortNodes(graph, context, where, depth === 0);
  return graph;
}

function convertNode(n: NodeMessage, index: number, context: ParseContext, depth: number, where: string): OnnxNode {
  const opType = n.opType ?? '';
  if (opType === '') throw new DataError(context.file, `${where}.node[${index}] has no op_type`);
  const name = n.name ? n.name : `${opType}#${index}`;
  const attributes = new Map<string, OnnxAttributeValue>();
  for (const a of n.attribute ?? []) {
    const attrName = a.name ?? '';
    attributes.set(attrName, convertAttribute(a, context, depth, `${where}.node '${name}' attribute '${attrName}'`));
  }
  return { name, opType, domain: n.domain === 'ai.onnx' ? '' : n.domain ?? '', inputs: [...(n.input ?? [])], outputs: [...(n.output ?? [])], attributes };
}

function convertAttribute(a: AttributeMessage, context: ParseContext, depth: number, where: string): OnnxAttributeValue {
  const file = context.file;
  if (a.refAttrName) return { type: 'unsupported', value: `reference to function attribute '${a.refAttrName}'` };
  // Files from before IR version 0.0.2 may lack the type; infer it from the field that is set.
  let type = a.type ?? 0;
  if (type === 0) {
    if (a.t) type = 4;
    else if (a.g) type = 5;
    else if ((a.floats ?? []).length) type = 6;
    else if ((a.ints ?? []).length) type = 7;
    else if ((a.strings ?? []).length) type = 8;
    else if (a.s !== undefined && a.s.length > 0) type = 3;
    else if (a.i !== undefined && attributeInt(a.i) !== 0) type = 2;
    else type = 1;
  }
  switch (type) {
    case 1: return { type: 'float', value: a.f ?? 0 };
    case 2: return { type: 'int', value: attributeInt(a.i) };
    case 3: return { type: 'string', value: utf8.decode(a.s ?? new Uint8Array()) };
    case 4: return { type: 'tensor', value: convertTensor(a.t ?? {}, context, where) };
    case 5: return { type: 'graph', value: convertGraph(a.g ?? {}, context, depth + 1, where) };
    case 6: return { type: 'floats', value: [...(a.floats ?? [])] };
    case 7: return { type: 'ints', value: (a.ints ?? []).map(attributeInt) };
    case 8: return { type: 'strings', value: (a.strings ?? []).map((s) => utf8.decode(s)) };
    case 9: return { type: 'tensors', value: (a.tensors ?? []).map((t) => convertTensor(t, context, where)) };
    case 10: return { type: 'graphs', value: (a.graphs ?? []).map((g) => convertGraph(g, context, depth + 1, where)) };
    default: return { type: 'unsupported', value: `attribute type ${type}` };
  }
}

const BYTES_PER_ELEMENT: Partial<Record<OnnxElementType, number>> = {
  float32: 4, uint8: 1, int8: 1, uint16: 2, int16: 2, int32: 4, int64: 8, bool: 1, float16: 2, float64: 8, uint32: 4, uint64: 8, bfloat16: 2,
};

function convertTensor(t: TensorMessage, context: ParseContext, where: string): OnnxTensorData {
  const file = context.file;
  const name = t.name ?? '';
  const label = name ? `${where} '${name}'` : where;
  const elementType = onnxElementType(t.dataType ?? 0);
  if (t.segment) throw new DataError(file, `${label} is a segment of a tensor, which Bastion does not read`);
  const dims = (t.dims ?? []).map((d) => int64(d, file, `${label} dims`));
  let count = 1;
  for (const d of dims) {
    if (d < 0) throw new DataError(file, `${label} has a negative dim (dims [${dims.join(',')}])`);
    count *= d;
  }
  if (count > MAX_ELEMENTS) throw new DataError(file, `${label} has dims [${dims.join(',')}] (${count} elements), more than Bastion accepts in one tensor (${MAX_ELEMENTS})`);
  if (elementType === 'undefined') throw new DataError(file, `${label} has no (or an unknown) data_type ${t.dataType ?? 0}`);
  if (elementType === 'complex64' || elementType === 'complex128') throw new DataError(file, `${label} is ${elementType}, which Bastion does not support`);
  if (elementType === 'string') {
    const values = (t.stringData ?? []).map((s) => utf8.decode(s));
    if (values.length !== count) throw new DataError(file, `${label} has dims [${dims.join(',')}] but ${values.length} strings`);
    return { name, elementType, dims, values };
  }
  let raw: Uint8Array | null = t.rawData && t.rawData.length > 0 ? t.rawData : null;
  if (t.dataLocation === 1) raw = readExternalData(t, context, label);
  const values = raw ? fromRawBytes(raw, elementType, count, file, label) : fromTypedFields(t, elementType, file, label);
  if (values.length !== count) {
    throw new DataError(file, `${label} has dims [${dims.join(',')}] (${count} elements) but its data holds ${values.length}`);
  }
  return { name, elementType, dims, values };
}

function readExternalData(t: TensorMessage, context: ParseContext, label: string): Uint8Array {
  const entries = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = entries.get('location');
  if (!location) throw new DataError(context.file, `${label} has external data without a 'location'`);
  if (context.baseDir === null) throw new DataError(context.file, `${label} keeps its data in '${location}', but the model was not read from a file`);
  const path = resolve(context.baseDir, location);
  const inside = relative(context.baseDir, path);
  if (inside.startsWith('..') || isAbsolute(inside)) {
    throw new DataError(context.file, `${label}: external data location '${location}' points outside the model's folder`, 'keep the data file beside the model');
  }
  if (!existsSync(path)) throw new DataError(context.file, `${label}: its external data file ${path} is missing`, 'copy the data file beside the model file');
  context.external?.add(inside);
  const offset = Number(entries.get('offset') ?? '0');
  const bytes = readFileSync(path);
  const length = entries.has('length') ? Number(entries.get('length')) : bytes.length - offset;
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > bytes.length) {
    throw new DataError(context.file, `${label}: external data offset ${entries.get('offset') ?? 0} / length ${entries.get('length') ?? '-'} lies outside ${path} (${bytes.length} bytes)`);
  }
  return bytes.subarray(offset, offset + length);
}

function fromRawBytes(raw: Uint8Array, type: OnnxElementType, count: number, file: string, label: string): Exclude<OnnxTensorValues, string[]> {
  const size = BYTES_PER_ELEMENT[type] ?? 1;
  if (raw.length !== count * size) {
    throw new DataError(file, `${label}: raw data holds ${raw.length} bytes, but ${count} ${type} elements need ${count * size}`);
  }
  // Copy into an aligned buffer (protobuf hands out unaligned views of the file).
  const copy = new Uint8Array(raw.length);
  copy.set(raw);
  const view = new DataView(copy.buffer);
  switch (type) {
    case 'float32': return new Float32Array(copy.buffer);
    case 'float64': return new Float64Array(copy.buffer);
    case 'int32': return new Int32Array(copy.buffer);
    case 'int64': return new BigInt64Array(copy.buffer);
    case 'int16': return new Int16Array(copy.buffer);
    case 'int8': return new Int8Array(copy.buffer);
    case 'uint8':
    case 'bool': return copy;
    case 'uint16': return Int32Array.from(new Uint16Array(copy.buffer));
    case 'uint32': return BigInt64Array.from(new Uint32Array(copy.buffer), (v) => BigInt(v));
    case 'uint64': return BigInt64Array.from({ length: count }, (_, i) => BigInt.asIntN(64, view.getBigUint64(i * 8, true)));
    case 'float16': return Float32Array.from(new Uint16Array(copy.buffer), halfToFloat);
    case 'bfloat16': return Float32Array.from(new Uint16Array(copy.buffer), bfloat16ToFloat);
    default: throw new DataError(file, `${label}: cannot read ${type} data`);
  }
}

function fromTypedFields(t: TensorMessage, type: OnnxElementType, file: string, label: string): Exclude<OnnxTensorValues, string[]> {
  const ints = (values: Int64[] | undefined): BigInt64Array => BigInt64Array.from(values ?? [], (v) => (typeof v === 'number' ? BigInt(v) : BigInt.asIntN(64, (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0))));
  switch (type) {
    case 'float32': return Float32Array.from(t.floatData ?? []);
    case 'float64': return Float64Array.from(t.doubleData ?? []);
    case 'int32': return Int32Array.from(t.int32Data ?? []);
    case 'int16': return Int16Array.from(t.int32Data ?? []);
    case 'int8': return Int8Array.from(t.int32Data ?? []);
    case 'uint8': return Uint8Array.from(t.int32Data ?? []);
    case 'bool': return Uint8Array.from(t.int32Data ?? [], (v) => (v ? 1 : 0));
    case 'uint16': return Int32Array.from(t.int32Data ?? [], (v) => v & 0xffff);
    case 'int64': return ints(t.int64Data);
    case 'uint32': return ints(t.uint64Data);
    case 'uint64': return ints(t.uint64Data);
    case 'float16': return Float32Array.from(t.int32Data ?? [], (v) => halfToFloat(v & 0xffff));
    case 'bfloat16': return Float32Array.from(t.int32Data ?? [], (v) => bfloat16ToFloat(v & 0xffff));
    default: throw new DataError(file, `${label}: cannot read ${type} data`);
  }
}

/** IEEE half-precision bits to a number. */
function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

const bfloatScratch = new DataView(new ArrayBuffer(4));
/** bfloat16 bits to a number (the upper half of a float32). */
function bfloat16ToFloat(bits: number): number {
  bfloatScratch.setUint32(0, bits << 16);
  return bfloatScratch.getFloat32(0);
}

/**
 * Orders the nodes so each runs after the producers of its inputs (Kahn's algorithm, stable:
 * a file already in order keeps its order) and checks the graph: every input of every node is a
 * graph input, an initializer or some node's output (for the main graph), no value has two
 * producers, and there is no cycle.
 */
function sortNodes(graph: OnnxGraph, context: ParseContext, where: string, closed: boolean): OnnxNode[] {
  const producer = new Map<string, number>();
  const available = new Set<string>([...graph.initializers.keys(), ...graph.inputs.map((v) => v.name), '']);
  for (const [i, node] of graph.nodes.entries()) {
    for (const out of node.outputs) {
      if (out === '') continue;
      if (producer.has(out) || available.has(out)) {
        throw new DataError(context.file, `${where}: value '${out}' is produced twice (node '${node.name}')`, 'the graph is malformed; export it again');
      }
      producer.set(out, i);
    }
  }
  const pending = graph.nodes.map((node) => {
    const needs = new Set<string>();
    for (const input of node.inputs) {
      if (available.has(input)) continue;
      if (producer.has(input)) needs.add(input);
      else if (closed) {
        throw new DataError(context.file, `${where}: node '${node.name}' (${node.opType}) reads '${input}', which no node, input or initializer provides`, 'the graph is incomplete (a missing initializer?); export it again');
      }
    }
    // Values that a subgraph reads from the enclosing scope count as inputs of the node too.
    for (const inner of subgraphReads(node)) if (producer.has(inner)) needs.add(inner);
    return needs;
  });
  const order: OnnxNode[] = [];
  const done = new Array<boolean>(graph.nodes.length).fill(false);
  const ready = new Set<string>();
  let progressed = true;
  while (order.length < graph.nodes.length && progressed) {
    progressed = false;
    for (const [i, node] of graph.nodes.entries()) {
      if (done[i]) continue;
      let ok = true;
      for (const need of pending[i]!) if (!ready.has(need)) { ok = false; break; }
      if (!ok) continue;
      done[i] = true;
      progressed = true;
      order.push(node);
      for (const out of node.outputs) ready.add(out);
    }
  }
  if (order.length < graph.nodes.length) {
    const stuck = graph.nodes.filter((_, i) => !done[i]).slice(0, 3).map((n) => `'${n.name}' (${n.opType})`);
    throw new DataError(context.file, `${where} has a cycle: nodes ${stuck.join(', ')} wait on each other's outputs`, 'ONNX graphs must be acyclic; export the model again');
  }
  if (closed) {
    for (const out of graph.outputs) {
      if (!available.has(out.name) && !producer.has(out.name)) {
        throw new DataError(context.file, `${where}: graph output '${out.name}' is not produced by any node`);
      }
    }
  }
  return order;
}

/** Names a node's subgraphs read from enclosing scopes (their free variables). */
function subgraphReads(node: OnnxNode): Set<string> {
  const reads = new Set<string>();
  for (const attribute of node.attributes.values()) {
    const graphs = attribute.type === 'graph' ? [attribute.value] : attribute.type === 'graphs' ? attribute.value : [];
    for (const g of graphs) {
      const local = new Set<string>([...g.initializers.keys(), ...g.inputs.map((v) => v.name), ...g.nodes.flatMap((n) => n.outputs)]);
      for (const n of g.nodes) {
        for (const input of n.inputs) if (input !== '' && !local.has(input)) reads.add(input);
        for (const inner of subgraphReads(n)) if (!local.has(inner)) reads.add(inner);
      }
      for (const out of g.outputs) if (!local.has(out.name)) reads.add(out.name);
    }
  }
  return reads;
}
