/**
 * Parameter initialisation, with PyTorch's formulas (torch.nn.init) and its draw order: a layer
 * built after `manualSeed(s)` gets exactly the numbers torch.nn gets after `torch.manual_seed(s)`,
 * because both draw from libtorch's CPU generator in the same sequence. Tensors that are not
 * row-major contiguous (channels-last weights) are filled through a contiguous temporary so that
 * the draw order is still the logical one.
 *
 * Every function works in place under noGrad and returns its argument.
 */
import { empty, noGrad, scope, type Tensor } from '../tensor/index.js';

/** Non-linearities known to {@link calculateGain}. */
export type Nonlinearity = 'linear' | 'conv2d' | 'conv_transpose2d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

/** The recommended gain for a non-linearity (torch.nn.init.calculate_gain). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv2d':
    case 'conv_transpose2d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5.0 / 3;
    case 'relu':
      return Math.sqrt(2.0);
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2.0 / (1 + slope ** 2));
    }
    case 'selu':
      return 3.0 / 4;
    default:
      throw new TypeError(`calculateGain: unknown non-linearity '${String(nonlinearity)}'`);
  }
}

/**
 * Fan-in and fan-out of a weight (torch.nn.init._calculate_fan_in_and_fan_out): size(1) and
 * size(0) times the receptive field. For a ConvTranspose2d weight [in, out/groups, kH, kW] this
 * makes fan-in out/groups*kH*kW, as in PyTorch.
 */
export function calculateFanInAndFanOut(t: Tensor): { fanIn: number; fanOut: number } {
  if (t.ndim < 2) throw new TypeError(`fan in/out: needs a tensor with at least 2 dimensions, got [${t.shape.join(',')}]`);
  let receptive = 1;
  for (const s of t.shape.slice(2)) receptive *= s;
  return { fanIn: t.size(1) * receptive, fanOut: t.size(0) * receptive };
}

/** Fills `t` by `fill` applied to a tensor in logical (row-major) order, whatever `t`'s layout. */
function fillInLogicalOrder(t: Tensor, fill: (target: Tensor) => void): Tensor {
  noGrad(() => {
    if (t.isContiguous()) {
      fill(t);
      return;
    }
    scope(() => {
      const tmp = empty(t.shape, { dtype: t.dtype });
      fill(tmp);
      t.copy_(tmp);
    });
  });
  return t;
}

/** Fills with U(a, b). */
export function uniform_(t: Tensor, a = 0, b = 1): Tensor {
  return fillInLogicalOrder(t, (x) => x.uniform_(a, b));
}

/** Fills with N(mean, std^2). */
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  return fillInLogicalOrder(t, (x) => x.normal_(mean, std));
}

/** Fills with a constant. */
export function constant_(t: Tensor, value: number): Tensor {
  noGrad(() => t.fill_(value));
  return t;
}

/** Fills with zeros. */
export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}

/** Fills with ones. */
export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

/** Options of the Kaiming (He et al. 2015) initialisers. */
export interface KaimingOptions {
  /** Negative slope of the rectifier that follows (used with 'leaky_relu'; default 0). */
  a?: number;
  mode?: 'fan_in' | 'fan_out';
  nonlinearity?: Nonlinearity;
}

function kaimingStd(t: Tensor, options: KaimingOptions): number {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const fan = (options.mode ?? 'fan_in') === 'fan_in' ? fanIn : fanOut;
  const gain = calculateGain(options.nonlinearity ?? 'leaky_relu', options.a ?? 0);
  return gain / Math.sqrt(fan);
}

/** Kaiming uniform: U(-b, b) with b = gain * sqrt(3 / fan) (torch.nn.init.kaiming_uniform_). */
export function kaimingUniform_(t: Tensor, options: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3.0) * kaimingStd(t, options);
  return uniform_(t, -bound, bound);
}

/** Kaiming normal: N(0, gain^2 / fan) (torch.nn.init.kaiming_normal_). */
export function kaimingNormal_(t: Tensor, options: KaimingOptions = {}): Tensor {
  return normal_(t, 0, kaimingStd(t, options));
}

/** Xavier/Glorot uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010). */
export function xavierUniform_(t: Tensor, gain = 1.0): Tensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const std = gain * Math.sqrt(2.0 / (fanIn + fanOut));
  const a = Math.sqrt(3.0) * std;
  return uniform_(t, -a, a);
}

/** Xavier/Glorot normal: N(0, gain^2 * 2 / (fan_in + fan_out)). */
export function xavierNormal_(t: Tensor, gain = 1.0): Tensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  return normal_(t, 0, gain * Math.sqrt(2.0 / (fanIn + fanOut)));
}

/**
 * PyTorch's default initialisation of a linear or convolution layer (reset_parameters of
 * nn.Linear / nn._ConvNd): weight kaiming-uniform with a = sqrt(5), i.e. U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)), then bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn in that order.
 */
export function defaultLayerInit_(weight: Tensor, bias: Tensor | null): void {
  kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias !== null) {
    const { fanIn } = calculateFanInAndFanOut(weight);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniform_(bias, -bound, bound);
  }
}
