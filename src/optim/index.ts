/** Optimizers (SGD, Adam, AdamW), learning-rate schedules and gradient clipping, with PyTorch's semantics. */
export { Optimizer, OptimizerError, type BaseHyperParams, type ParamGroup, type ParamsInput, type OptimizerState, type OptimizerStateMeta } from './optimizer.js';
export { SGD, type SGDHyperParams } from './sgd.js';
export { Adam, AdamW, type AdamHyperParams } from './adam.js';
export { LRScheduler, StepLR, MultiStepLR, CosineAnnealingLR, OneCycleLR, type SchedulerState, type OneCycleOptions } from './scheduler.js';
export { clipGradNorm, clipGradValue } from './clip.js';
