/**
 * Bastion's neural-network library: `Module` and its layers (names, state and initialisation as
 * torch.nn), initialisers, and the functional ops and losses (as `F`, like torch.nn.functional).
 */
export { Module, Sequential, ModuleList, StateDictError, type LoadStateDictOptions, type LoadStateDictResult } from './module.js';
export { Conv2d, ConvTranspose2d, type Conv2dLayerOptions, type ConvTranspose2dLayerOptions } from './conv.js';
export { Linear, Flatten, Identity } from './linear.js';
export { BatchNorm2d, LayerNorm, GroupNorm, type BatchNormOptions } from './normalization.js';
export { MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, type MaxPool2dOptions, type AvgPool2dOptions } from './pooling.js';
export { ReLU, GELU, Sigmoid, Tanh, LeakyReLU } from './activation.js';
export { Dropout } from './dropout.js';
export { Upsample, type UpsampleOptions } from './upsample.js';
export { MultiheadAttention, SelfAttention2d, type MultiheadAttentionOptions, type SelfAttention2dOptions } from './attention.js';
export * as init from './init.js';
export * as F from './functional.js';
