/** Training: the fit() loop with checkpoints, resumption, best-model saving and early stopping. */
export {
  fit, accuracy, crossEntropyLoss, configDifferences, checkResumeConfig,
  type FitOptions, type FitResult, type FitEvent, type EpochMetrics, type BestRecord, type Metric, type MetricMode, type LossFunction, type LossResult,
} from './fit.js';
