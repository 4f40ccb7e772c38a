/**
 * Bad ONNX input: random and truncated bytes, absurd dims, cyclic graphs, missing initializers,
 * wrong dtypes and sizes, external data outside the model's folder, unsupported ops. Each must
 * give one clear BastionError (naming the file and the problem), never a crash or a hang.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { parseOnnxModel, readOnnxModel } from '../../src/io/onnx.js';
import { OnnxNetwork } from '../../src/models/onnx/graph.js';
import { packageRoot } from '../../src/tensor/native.js';
import { BastionError } from '../../src/util/errors.js';

const root = protobuf.loadSync(join(packageRoot, 'src', 'io', 'onnx.proto'));
const ModelProto = root.lookupType('onnx.ModelProto');

type Json = Record<string, unknown>;

/** A tiny valid model: y = Relu(x + w), x [1,4]. */
function model(overrides: { nodes?: Json[]; initializers?: Json[]; inputs?: Json[]; outputs?: Json[]; opset?: number } = {}): Json {
  const valueInfo = (name: string): Json => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: 4 }] } } } });
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: overrides.opset ?? 13 }],
    graph: {
      name: 'g',
      node: overrides.nodes ?? [
        { opType: 'Add', input: ['x', 'w'], output: ['s'], name: 'add' },
        { opType: 'Relu', input: ['s'], output: ['y'], name: 'relu' },
      ],
      initializer: overrides.initializers ?? [{ name: 'w', dims: [1, 4], dataType: 1, floatData: [1, -2, 3, -4] }],
      input: overrides.inputs ?? [valueInfo('x')],
      output: overrides.outputs ?? [valueInfo('y')],
    },
  };
}

function encode(message: Json): Uint8Array {
  return ModelProto.encode(ModelProto.fromObject(message)).finish();
}

/** Parses and builds the network; returns the error it throws (failing if it throws none or a non-Bastion one). */
function errorOf(bytes: Uint8Array, file = 'fuzz.onnx', baseDir: string | null = null): BastionError {
  try {
    const network = new OnnxNetwork(parseOnnxModel(bytes, file, { baseDir }));
    network.dispose();
  } catch (error) {
    assert.ok(error instanceof BastionError, `expected a BastionError, got ${String(error)}`);
    assert.ok(!error.message.includes('\n'), 'the message is one line');
    return error;
  }
  assert.fail('expected an error');
}

test('a valid tiny model parses and builds (the baseline of the cases below)', () => {
  const network = new OnnxNetwork(parseOnnxModel(encode(model()), 'ok.onnx'));
  assert.equal(network.inputs.length, 1);
  network.dispose();
});

test('random bytes give a clear error', { timeout: 30_000 }, () => {
  let state = 12345;
  const next = (): number => (state = (state * 1103515245 + 12345) >>> 0) & 0xff;
  for (let trial = 0; trial < 200; trial++) {
    const bytes = Uint8Array.from({ length: 1 + (trial * 37) % 4096 }, next);
    const error = errorOf(bytes, `random-${trial}.onnx`);
    assert.match(error.message, /random-\d+\.onnx/);
  }
});

test('every truncation of a real model gives a clear error', { timeout: 60_000 }, () => {
  const bytes = encode(model());
  for (let length = 0; length < bytes.length; length++) {
    const error = errorOf(bytes.subarray(0, length), `truncated-${length}.onnx`);
    assert.match(error.message, /truncated-\d+\.onnx/);
  }
  const real = '/usr/share/libonnx-testdata/data/pytorch-converted/test_Conv2d/model.onnx';
  let realBytes: Uint8Array | null = null;
  try {
    realBytes = readFileSync(real);
  } catch {
    realBytes = null; // libonnx-testdata missing: the synthetic model above covers the case
  }
  if (realBytes) {
    for (let length = 0; length < realBytes.length; length += Math.max(1, Math.floor(realBytes.length / 300))) {
      errorOf(realBytes.subarray(0, length), 'truncated-conv.onnx');
    }
  }
});

test('absurd, negative and inconsistent dims are rejected before anything is allocated', () => {
  const cases: [Json, RegExp][] = [
    [{ name: 'w', dims: [1e9, 1e9], dataType: 1, floatData: [1] }, /elements/],
    [{ name: 'w', dims: [-1, 4], dataType: 1, floatData: [1, 2, 3, 4] }, /negative dim/],
    [{ name: 'w', dims: [1, 4], dataType: 1, floatData: [1, 2, 3] }, /holds 3/],
    [{ name: 'w', dims: [1, 4], dataType: 1, rawData: new Uint8Array(15) }, /15 bytes/],
    [{ name: 'w', dims: [1, 4], dataType: 99, rawData: new Uint8Array(16) }, /data_type/],
    [{ name: 'w', dims: [1, 4], dataType: 14, rawData: new Uint8Array(32) }, /complex64/],
  ];
  for (const [initializer, pattern] of cases) {
    const error = errorOf(encode(model({ initializers: [initializer] })));
    assert.match(error.message, pattern);
    assert.match(error.message, /'w'/);
  }
});

test('a cyclic graph, a missing initializer and a value produced twice are named', () => {
  const cyclic = errorOf(encode(model({
    nodes: [
      { opType: 'Add', input: ['x', 'b'], output: ['a'], name: 'first' },
      { opType: 'Relu', input: ['a'], output: ['b'], name: 'second' },
      { opType: 'Relu', input: ['b'], output: ['y'], name: 'third' },
    ],
  })));
  assert.match(cyclic.message, /cycle/);
  const missing = errorOf(encode(model({ initializers: [] })));
  assert.match(missing.message, /node 'add'.*reads 'w'/);
  const twice = errorOf(encode(model({
    nodes: [
      { opType: 'Relu', input: ['x'], output: ['y'], name: 'one' },
      { opType: 'Relu', input: ['x'], output: ['y'], name: 'two' },
    ],
  })));
  assert.match(twice.message, /produced twice/);
  const noOutput = errorOf(encode(model({ outputs: [{ name: 'nowhere' }] })));
  assert.match(noOutput.message, /'nowhere' is not produced/);
});

test('an unsupported op is named with its node, opset and the supported list, before anything runs', () => {
  const error = errorOf(encode(model({
    nodes: [
      { opType: 'Add', input: ['x', 'w'], output: ['s'], name: 'add' },
      { opType: 'FancyNewOp', input: ['s'], output: ['y'], name: 'mystery' },
    ],
  })));
  assert.match(error.message, /unsupported ONNX op: FancyNewOp at opset 13 \(node 'mystery'\)/);
  assert.match(error.hint ?? '', /Bastion supports .*Relu/);
  const domain = errorOf(encode(model({ nodes: [{ opType: 'Relu', domain: 'com.example', input: ['x'], output: ['y'], name: 'r' }] })));
  assert.match(domain.message, /com\.example::Relu/);
});

test('external data must stay inside the model folder and exist', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bastion-onnx-external-'));
  try {
    const external = (location: string, extra: Json[] = []): Json => ({
      name: 'w', dims: [1, 4], dataType: 1, dataLocation: 1, externalData: [{ key: 'location', value: location }, ...extra],
    });
    const outside = errorOf(encode(model({ initializers: [external('../../etc/passwd')] })), join(dir, 'm.onnx'), dir);
    assert.match(outside.message, /outside the model's folder/);
    const absent = errorOf(encode(model({ initializers: [external('weights.bin')] })), join(dir, 'm.onnx'), dir);
    assert.match(absent.message, /missing/);
    writeFileSync(join(dir, 'weights.bin'), Buffer.from(new Float32Array([1, 2, 3, 4]).buffer));
    const beyond = errorOf(encode(model({ initializers: [external('weights.bin', [{ key: 'offset', value: '8' }])] })), join(dir, 'm.onnx'), dir);
    assert.match(beyond.message, /8 bytes|outside|bytes/);
    // The happy path: the same data, in the file, read through readOnnxModel.
    writeFileSync(join(dir, 'ok.onnx'), encode(model({ initializers: [external('weights.bin')] })));
    const parsed = readOnnxModel(join(dir, 'ok.onnx'));
    assert.deepEqual([...(parsed.graph.initializers.get('w')!.values as Float32Array)], [1, 2, 3, 4]);
    assert.deepEqual(parsed.externalFiles, ['weights.bin']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file that is not there, or a folder, is a clear error', () => {
  assert.throws(() => readOnnxModel('/nonexistent/model.onnx'), /does not exist/);
  assert.throws(() => readOnnxModel(tmpdir()), /is a folder/);
});
