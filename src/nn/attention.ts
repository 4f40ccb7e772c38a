/**
 * Attention layers: torch.nn.MultiheadAttention (batch-first) and SelfAttention2d, the
 * self-attention block over feature maps used by the CSAAE purifier (paper 000, section on
 * self-attention: Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V).
 */
import { empty, scope, type Tensor } from '../tensor/index.js';
import { dropout, linear } from './functional.js';
import { xavierUniform_, zeros_ } from './init.js';
import { Linear } from './linear.js';
import { Module } from './module.js';
import { LayerNorm } from './normalization.js';

/** Options of {@link MultiheadAttention}. */
export interface MultiheadAttentionOptions {
  /** Dropout on the attention weights in training mode (default 0). */
  dropout?: number;
  /** Biases on the input and output projections (default true). */
  bias?: boolean;
}

/**
 * Multi-head scaled dot-product attention (Vaswani et al. 2017) with the parameters of
 * torch.nn.MultiheadAttention: packed `in_proj_weight` [3E, E] (rows: Q, K, V), `in_proj_bias`
 * [3E], and `out_proj` (a Linear E -> E). Initialised as PyTorch: out_proj drawn as a Linear,
 * then in_proj_weight xavier-uniform, both biases zero. Tokens are batch-first [N, L, E]
 * (PyTorch's `batch_first=True`).
 */
export class MultiheadAttention extends Module {
  readonly headDim: number;
  readonly dropout: number;
  readonly inProjWeight: Tensor;
  readonly inProjBias: Tensor | null;
  readonly outProj: Linear;

  constructor(readonly embedDim: number, readonly numHeads: number, options: MultiheadAttentionOptions = {}) {
    super();
    if (!Number.isInteger(embedDim) || embedDim < 1 || !Number.isInteger(numHeads) || numHeads < 1 || embedDim % numHeads !== 0) {
      throw new RangeError(`MultiheadAttention: embedDim (${embedDim}) must be a positive multiple of numHeads (${numHeads})`);
    }
    this.headDim = embedDim / numHeads;
    this.dropout = options.dropout ?? 0;
    if (!(this.dropout >= 0 && this.dropout < 1)) throw new RangeError(`MultiheadAttention: dropout must be in [0, 1), got ${this.dropout}`);
    const bias = options.bias ?? true;
    this.inProjWeight = this.registerParameter('in_proj_weight', empty([3 * embedDim, embedDim]));
    this.inProjBias = bias ? this.registerParameter('in_proj_bias', zeros_(empty([3 * embedDim]))) : this.registerParameter('in_proj_bias', null);
    this.outProj = this.registerModule('out_proj', new Linear(embedDim, embedDim, { bias }));
    xavierUniform_(this.inProjWeight);
    if (this.outProj.bias !== null) zeros_(this.outProj.bias);
  }

  /** Self-attention of tokens [N, L, E]: queries, keys and values all come from `input`. */
  forward(input: Tensor): Tensor {
    return this.attend(input, input, input);
  }

  /** Attention of `query` [N, Lq, E] over `key` and `value` [N, Lk, E]; returns [N, Lq, E]. */
  attend(query: Tensor, key: Tensor, value: Tensor): Tensor {
    const E = this.embedDim;
    for (const [name, t] of [['query', query], ['key', key], ['value', value]] as const) {
      if (t.ndim !== 3 || t.shape[2] !== E) throw new TypeError(`MultiheadAttention(${E}): ${name} must be [N, L, ${E}], got [${t.shape.join(',')}]`);
    }
    return scope(() => {
      const [q, k, v] = this.#project(query, key, value);
      const [n, lq] = [query.size(0), query.size(1)];
      const lk = key.size(1);
      const heads = (t: Tensor, length: number): Tensor => t.reshape(n, length, this.numHeads, this.headDim).transpose(1, 2);
      const qh = heads(q, lq).div(Math.sqrt(this.headDim));
      const scores = qh.matmul(heads(k, lk).transpose(-2, -1));
      let weights = scores.softmax(-1);
      if (this.dropout > 0 && this.training) weights = dropout(weights, this.dropout, true);
      const mixed = weights.matmul(heads(v, lk)).transpose(1, 2).reshape(n, lq, E);
      return this.outProj.forward(mixed);
    });
  }

  #project(query: Tensor, key: Tensor, value: Tensor): [Tensor, Tensor, Tensor] {
    const E = this.embedDim;
    if (query === key && key === value) {
      const [q, k, v] = linear(query, this.inProjWeight, this.inProjBias).chunk(3, -1);
      return [q as Tensor, k as Tensor, v as Tensor];
    }
    const part = (t: Tensor, i: number): Tensor =>
      linear(t, this.inProjWeight.narrow(0, i * E, E), this.inProjBias === null ? null : this.inProjBias.narrow(0, i * E, E));
    return [part(query, 0), part(key, 1), part(value, 2)];
  }

  protected override extraRepr(): string {
    return `${this.embedDim}, numHeads=${this.numHeads}${this.dropout > 0 ? `, dropout=${this.dropout}` : ''}`;
  }
}

/** Options of {@link SelfAttention2d}. */
export interface SelfAttention2dOptions {
  /** Attention heads (default 1: one head with d_k = C, the formula of paper 000). */
  heads?: number;
  /** Dropout on the attention weights in training mode (default 0). */
  dropout?: number;
}

/**
 * Self-attention over the positions of a feature map, for the CSAAE purifier (paper 000).
 *
 * Paper 000 gives only Attention(Q,K,V) = softmax(QK^T/sqrt(d_k))V, so the block around it is our
 * design choice, the standard pre-norm transformer residual block:
 *   [N,C,H,W] -> tokens [N,HW,C] (one token per position) -> LayerNorm over C ->
 *   multi-head attention (packed Q/K/V projections, output projection) -> + tokens (residual)
 *   -> [N,C,H,W].
 * The residual path keeps the block close to the identity at initialisation, so inserting it into
 * a convolutional auto-encoder does not disturb training. Children `norm` (LayerNorm) and `attn`
 * (MultiheadAttention) give state names `norm.weight`, `norm.bias`, `attn.in_proj_weight`,
 * `attn.in_proj_bias`, `attn.out_proj.weight`, `attn.out_proj.bias`, loadable into the same block
 * built from torch.nn.LayerNorm and torch.nn.MultiheadAttention(batch_first=True).
 * On channels-last input the token view needs no copy, and the output is channels-last again.
 */
export class SelfAttention2d extends Module {
  readonly norm: LayerNorm;
  readonly attn: MultiheadAttention;

  constructor(readonly channels: number, options: SelfAttention2dOptions = {}) {
    super();
    this.norm = this.registerModule('norm', new LayerNorm(channels));
    this.attn = this.registerModule('attn', new MultiheadAttention(channels, options.heads ?? 1, { dropout: options.dropout ?? 0 }));
  }

  forward(input: Tensor): Tensor {
    if (input.ndim !== 4 || input.shape[1] !== this.channels) {
      throw new TypeError(`SelfAttention2d(${this.channels}): expected input [N,${this.channels},H,W], got [${input.shape.join(',')}]`);
    }
    const [n, c, h, w] = input.shape as [number, number, number, number];
    return scope(() => {
      const tokens = input.flatten(2).transpose(1, 2);
      const attended = this.attn.forward(this.norm.forward(tokens));
      return tokens.add(attended).transpose(1, 2).reshape(n, c, h, w);
    });
  }

  protected override extraRepr(): string {
    return `${this.channels}, heads=${this.attn.numHeads}`;
  }
}
