/**
 * The attack suite: one file per attack over a small common base (base.ts), the threat model and
 * result types (types.ts), and the registry that names them (registry.ts).
 */
export type { Norm, ThreatModel, Model, EpsilonResult, AttackResult, Attack } from './types.js';
export {
  AttackBase, AttackContext, ActiveSet, BestExamples, iterate, objectiveOf, crossEntropyPerSample, cwMargin, dlrLoss, labelLogit,
  maxOtherLogit, perSampleNorm, resolveThreat,
  type BaseAttackOptions, type Objective, type LossKind, type LossOutput, type Box, type IterativeSpec, type ResolvedThreat,
} from './base.js';
export { FGSM, type FGSMOptions } from './fgsm.js';
export { PGD, type PGDOptions, type PGDResult, type StepResults } from './pgd.js';
export { BIM, type BIMOptions } from './bim.js';
export { StepLL, IterStepLL, leastLikelyClass } from './step-ll.js';
export { CWPGD, type CWPGDOptions } from './cw-pgd.js';
export { BPDA, type Preprocessor } from './bpda.js';
export { MIFGSM, type MIFGSMOptions } from './mifgsm.js';
export { APGD, apgdCheckpoints, type APGDOptions } from './apgd.js';
export { APGDT, dlrTargetedLoss, topOtherClasses, type APGDTOptions } from './apgd-t.js';
export { Square, squareFraction, pseudoGaussian, type SquareOptions } from './square.js';
export { CW, type CWOptions } from './cw.js';
export { FAB, projectHyperplaneBox, type FABOptions } from './fab.js';
export { A3PGD, A3IterStepLL, createA3, a3Attacks, type A3Base, type A3Options, type A3PGDOptions, type A3IterStepLLOptions, type A3Reduction, type A3Settings } from './a3.js';
export {
  attacks, attackInfo, attackNorms, createAttack, ATTACK_OPTIONS, type AttackInfo, type OptionType,
} from './registry.js';
export { chooseTargets, type TargetMode } from './targets.js';
