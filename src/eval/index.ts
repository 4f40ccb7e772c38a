/** Evaluation: robustness under attack over a data set, and the papers' published numbers to compare with. */
export {
  evaluateRobustness, type RobustnessOptions, type RobustnessResult, type RobustnessBatch, type EpsilonSummary, type NormSummary,
} from './robustness.js';
export {
  PAPER_TABLES, paperTable, compareWithPaper, formatComparison, type PaperTable, type PaperEntry, type PaperId, type PaperMetric,
  type PaperSelector, type ComparisonRow,
} from './paper.js';
