/**
 * Converting ONNX tensor data (initializers, Constant values, test inputs) into Bastion tensors,
 * and mapping ONNX element types onto Bastion dtypes.
 */
import { tensor, type DType, type Tensor } from '../../tensor/index.js';
import type { OnnxElementType, OnnxTensorData } from '../../io/onnx.js';
import { BastionError } from '../../util/errors.js';

/** Bastion's dtype for each ONNX element type it holds exactly (float16/bfloat16 come widened to float32 and are narrowed back). */
const DTYPE_OF: Partial<Record<OnnxElementType, DType>> = {
  float32: 'float32', float64: 'float64', float16: 'float16', bfloat16: 'bfloat16',
  int64: 'int64', int32: 'int32', int16: 'int16', int8: 'int8', uint8: 'uint8', bool: 'bool',
};

/** TensorProto.DataType codes of the element types Bastion has a dtype for. */
const DTYPE_OF_CODE: Record<number, DType> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64', 16: 'bfloat16',
};

const NAME_OF_CODE: Record<number, string> = {
  0: 'undefined', 4: 'uint16', 8: 'string', 12: 'uint32', 13: 'uint64', 14: 'complex64', 15: 'complex128',
  17: 'float8e4m3fn', 18: 'float8e4m3fnuz', 19: 'float8e5m2', 20: 'float8e5m2fnuz', 21: 'uint4', 22: 'int4',
};

/** The Bastion dtype of an ONNX element type, or null when Bastion has none (strings, unsigned 16/32/64-bit, complex). */
export function dtypeOfOnnx(elementType: OnnxElementType): DType | null {
  return DTYPE_OF[elementType] ?? null;
}

/** The Bastion dtype of a TensorProto.DataType code (as Cast's `to` gives it), or null when Bastion has none. */
export function dtypeOfOnnxCode(code: number): DType | null {
  return DTYPE_OF_CODE[code] ?? null;
}

/** The ONNX name of a TensorProto.DataType code, for error messages. */
export function onnxCodeName(code: number): string {
  const dtype = DTYPE_OF_CODE[code];
  return dtype ?? NAME_OF_CODE[code] ?? `code ${code}`;
}

/**
 * A Bastion tensor holding `data`'s values with its dims and (Bastion's equivalent of its) element
 * type. Throws a clear error for element types Bastion has no dtype for (string, uint16, uint32,
 * uint64, complex). With `keep`, the tensor is exempt from every scope (see Tensor.keep()).
 */
export function tensorFromOnnx(data: OnnxTensorData, options?: { keep?: boolean }): Tensor {
  const dtype = dtypeOfOnnx(data.elementType);
  if (dtype === null || typeof data.values === 'string' || Array.isArray(data.values)) {
    const label = data.name ? `ONNX tensor '${data.name}'` : 'an ONNX tensor';
    throw new BastionError(`${label} has element type ${data.elementType}, which Bastion has no dtype for`, {
      hint: 'Bastion tensors hold float16/32/64, bfloat16, int8/16/32/64, uint8 and bool; convert the model\'s tensor to one of these',
    });
  }
  const values = data.values;
  const t = tensor(values, { shape: data.dims, dtype });
  if (options?.keep === true) t.keep();
  return t;
}
