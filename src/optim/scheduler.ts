/**
 * Learning-rate schedules with PyTorch's formulas (torch.optim.lr_scheduler, the recursive
 * "chainable" forms it uses in step()): StepLR, MultiStepLR, CosineAnnealingLR and OneCycleLR.
 * Call `step()` after each optimizer step (OneCycleLR: per batch) or epoch; construction sets the
 * initial learning rate, as in PyTorch. `stateDict()`/`loadStateDict()` resume a schedule.
 */
import { BastionError } from '../util/errors.js';
import type { Optimizer } from './optimizer.js';

/** A schedule's resumable state (JSON). */
export interface SchedulerState {
  type: string;
  lastEpoch: number;
  stepCount: number;
  baseLrs: number[];
  lastLr: number[];
  /** Schedule-specific values that must survive a resume (e.g. OneCycleLR's per-group bounds). */
  extra?: Record<string, unknown>;
}

/** Base class of the learning-rate schedules. */
export abstract class LRScheduler {
  /** Schedule steps taken (PyTorch's last_epoch; 0 after construction). */
  lastEpoch = -1;
  /** The learning rates at construction (each group's initialLr). */
  baseLrs: number[];
  /** The learning rates set by the last step. */
  lastLr: number[] = [];
  protected stepCount = 0;
  /** Whether the schedule is meant to be stepped after every batch or every epoch (the training loop's default). */
  readonly interval: 'batch' | 'epoch' = 'epoch';

  constructor(readonly optimizer: Optimizer) {
    for (const group of optimizer.paramGroups) group.initialLr ??= group.lr;
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr as number);
  }

  /** The learning rates for the new `lastEpoch`, from the groups' current ones (PyTorch's get_lr). */
  protected abstract computeLr(): number[];

  /** Sets the initial learning rates; subclasses call it at the end of their constructor (PyTorch's _initial_step). */
  protected initialize(): void {
    this.stepCount = 0;
    this.step();
  }

  /** Advances the schedule by one step and writes the new learning rate into every group. */
  step(): void {
    this.stepCount += 1;
    this.lastEpoch += 1;
    const lrs = this.computeLr();
    this.optimizer.paramGroups.forEach((group, i) => (group.lr = lrs[i] as number));
    this.lastLr = lrs;
  }

  /** The learning rate of each group after the last step. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** Extra state a subclass needs to resume (override when it has any). */
  protected extraState(): Record<string, unknown> | undefined {
    return undefined;
  }
  /** Restores {@link extraState}. */
  protected loadExtraState(_extra: Record<string, unknown> | undefined): void {}

  /** The resumable state. */
  stateDict(): SchedulerState {
    const extra = this.extraState();
    return {
      type: this.constructor.name, lastEpoch: this.lastEpoch, stepCount: this.stepCount, baseLrs: [...this.baseLrs], lastLr: [...this.lastLr],
      ...(extra === undefined ? {} : { extra: structuredClone(extra) }),
    };
  }

  /** Restores a state from {@link stateDict} (the optimizer's own state holds the groups' current lr). */
  loadStateDict(state: SchedulerState): void {
    if (state.type !== this.constructor.name) throw new BastionError(`cannot load ${state.type} schedule state into ${this.constructor.name}`, { hint: `build a ${state.type} to resume this run` });
    if (state.baseLrs.length !== this.optimizer.paramGroups.length) {
      throw new BastionError(`${state.type} state has ${state.baseLrs.length} parameter groups but the optimizer has ${this.optimizer.paramGroups.length}`);
    }
    this.lastEpoch = state.lastEpoch;
    this.stepCount = state.stepCount;
    this.baseLrs = [...state.baseLrs];
    this.lastLr = [...state.lastLr];
    this.loadExtraState(state.extra);
  }

  protected currentLrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
}

function checkPositiveInt(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${what} must be a positive integer, got ${value}`);
}

/** Multiplies the learning rate by `gamma` every `stepSize` steps (torch.optim.lr_scheduler.StepLR). */
export class StepLR extends LRScheduler {
  readonly stepSize: number;
  readonly gamma: number;

  constructor(optimizer: Optimizer, options: { stepSize: number; gamma?: number }) {
    super(optimizer);
    checkPositiveInt(options.stepSize, 'StepLR: stepSize');
    this.stepSize = options.stepSize;
    this.gamma = options.gamma ?? 0.1;
    this.initialize();
  }

  protected computeLr(): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return this.currentLrs();
    return this.currentLrs().map((lr) => lr * this.gamma);
  }
}

/** Multiplies the learning rate by `gamma` at each milestone step (torch.optim.lr_scheduler.MultiStepLR). */
export class MultiStepLR extends LRScheduler {
  readonly milestones: readonly number[];
  readonly gamma: number;

  constructor(optimizer: Optimizer, options: { milestones: readonly number[]; gamma?: number }) {
    super(optimizer);
    for (const m of options.milestones) checkPositiveInt(m, 'MultiStepLR: each milestone');
    this.milestones = [...options.milestones].sort((a, b) => a - b);
    this.gamma = options.gamma ?? 0.1;
    this.initialize();
  }

  protected computeLr(): number[] {
    const hits = this.milestones.filter((m) => m === this.lastEpoch).length;
    if (hits === 0) return this.currentLrs();
    return this.currentLrs().map((lr) => lr * this.gamma ** hits);
  }
}

/**
 * Cosine annealing from the base learning rate to `etaMin` over `tMax` steps (Loshchilov & Hutter
 * 2017, without restarts; torch.optim.lr_scheduler.CosineAnnealingLR): lr_t = etaMin + (base - etaMin)
 * (1 + cos(pi t / tMax)) / 2, computed recursively as PyTorch does.
 */
export class CosineAnnealingLR extends LRScheduler {
  readonly tMax: number;
  readonly etaMin: number;

  constructor(optimizer: Optimizer, options: { tMax: number; etaMin?: number }) {
    super(optimizer);
    checkPositiveInt(options.tMax, 'CosineAnnealingLR: tMax');
    this.tMax = options.tMax;
    this.etaMin = options.etaMin ?? 0;
    this.initialize();
  }

  protected computeLr(): number[] {
    const { lastEpoch: t, tMax, etaMin } = this;
    const current = this.currentLrs();
    if (t === 0) return current;
    if ((((t - 1 - tMax) % (2 * tMax)) + 2 * tMax) % (2 * tMax) === 0) {
      return current.map((lr, i) => lr + ((this.baseLrs[i] as number) - etaMin) * (1 - Math.cos(Math.PI / tMax)) / 2);
    }
    return current.map((lr) => ((1 + Math.cos((Math.PI * t) / tMax)) / (1 + Math.cos((Math.PI * (t - 1)) / tMax))) * (lr - etaMin) + etaMin);
  }
}

/** Options of {@link OneCycleLR}. */
export interface OneCycleOptions {
  /** Peak learning rate (one value, or one per group). */
  maxLr: number | readonly number[];
  /** Total schedule steps; or give epochs and stepsPerEpoch. */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  /** Fraction of the steps spent increasing the learning rate (default 0.3). */
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  /** Cycle momentum (SGD) or beta1 (Adam) inversely to the learning rate (default true). */
  cycleMomentum?: boolean;
  baseMomentum?: number;
  maxMomentum?: number;
  /** Initial lr = maxLr / divFactor (default 25). */
  divFactor?: number;
  /** Minimum lr = initial lr / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /** Use a third phase that anneals to the minimum lr (fast.ai style). */
  threePhase?: boolean;
}

type Bound = 'initialLr' | 'maxLr' | 'minLr';
type MomentumBound = 'maxMomentum' | 'baseMomentum';
interface Phase {
  endStep: number;
  startLr: Bound;
  endLr: Bound;
  startMomentum: MomentumBound;
  endMomentum: MomentumBound;
}
interface GroupBounds {
  initialLr: number;
  maxLr: number;
  minLr: number;
  maxMomentum: number;
  baseMomentum: number;
}

/**
 * The 1cycle policy (Smith & Topin 2019; torch.optim.lr_scheduler.OneCycleLR): the learning rate
 * rises from maxLr/divFactor to maxLr over pctStart of the steps, then anneals to
 * initial/finalDivFactor, while momentum (or Adam's beta1) moves the opposite way. Step it after
 * every batch (its `interval` is 'batch').
 */
export class OneCycleLR extends LRScheduler {
  override readonly interval = 'batch' as const;
  readonly totalSteps: number;
  readonly #phases: Phase[];
  readonly #anneal: (start: number, end: number, pct: number) => number;
  readonly #cycleMomentum: boolean;
  #bounds: GroupBounds[];

  constructor(optimizer: Optimizer, options: OneCycleOptions) {
    super(optimizer);
    if (options.totalSteps !== undefined) {
      checkPositiveInt(options.totalSteps, 'OneCycleLR: totalSteps');
      this.totalSteps = options.totalSteps;
    } else if (options.epochs !== undefined && options.stepsPerEpoch !== undefined) {
      checkPositiveInt(options.epochs, 'OneCycleLR: epochs');
      checkPositiveInt(options.stepsPerEpoch, 'OneCycleLR: stepsPerEpoch');
      this.totalSteps = options.epochs * options.stepsPerEpoch;
    } else {
      throw new TypeError('OneCycleLR: give totalSteps, or epochs and stepsPerEpoch');
    }
    const pct = options.pctStart ?? 0.3;
    if (!(pct >= 0 && pct <= 1)) throw new RangeError(`OneCycleLR: pctStart must be in [0, 1], got ${pct}`);
    const total = this.totalSteps;
    this.#phases = options.threePhase
      ? [
          { endStep: pct * total - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
          { endStep: 2 * pct * total - 2, startLr: 'maxLr', endLr: 'initialLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
          { endStep: total - 1, startLr: 'initialLr', endLr: 'minLr', startMomentum: 'maxMomentum', endMomentum: 'maxMomentum' },
        ]
      : [
          { endStep: pct * total - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
          { endStep: total - 1, startLr: 'maxLr', endLr: 'minLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
        ];
    const strategy = options.annealStrategy ?? 'cos';
    if (strategy !== 'cos' && strategy !== 'linear') throw new TypeError(`OneCycleLR: annealStrategy must be 'cos' or 'linear', got '${String(strategy)}'`);
    this.#anneal = strategy === 'cos'
      ? (start, end, p) => end + ((start - end) / 2.0) * (Math.cos(Math.PI * p) + 1)
      : (start, end, p) => (end - start) * p + start;
    const groups = optimizer.paramGroups;
    const perGroup = (value: number | readonly number[], what: string): number[] => {
      if (typeof value === 'number') return groups.map(() => value);
      if (value.length !== groups.length) throw new RangeError(`OneCycleLR: expected ${groups.length} values for ${what}, got ${value.length}`);
      return [...value];
    };
    const maxLrs = perGroup(options.maxLr, 'maxLr');
    const divFactor = options.divFactor ?? 25;
    const finalDivFactor = options.finalDivFactor ?? 1e4;
    const maxMomentum = options.maxMomentum ?? 0.95;
    const baseMomentum = options.baseMomentum ?? 0.85;
    this.#cycleMomentum = options.cycleMomentum ?? true;
    this.#bounds = maxLrs.map((maxLr) => {
      const initialLr = maxLr / divFactor;
      return { initialLr, maxLr, minLr: initialLr / finalDivFactor, maxMomentum, baseMomentum };
    });
    groups.forEach((group, i) => {
      group.initialLr = (this.#bounds[i] as GroupBounds).initialLr;
      if (this.#cycleMomentum) this.#setMomentum(group, maxMomentum);
    });
    this.baseLrs = groups.map((g) => g.initialLr as number);
    this.initialize();
  }

  #setMomentum(group: Optimizer['paramGroups'][number], value: number): void {
    const g = group as unknown as { betas?: [number, number]; momentum?: number };
    if (Array.isArray(g.betas)) g.betas = [value, g.betas[1]];
    else if (typeof g.momentum === 'number') g.momentum = value;
    else throw new TypeError('OneCycleLR: cycleMomentum needs an optimizer with momentum (SGD) or betas (Adam); pass cycleMomentum: false');
  }

  protected computeLr(): number[] {
    const stepNum = this.lastEpoch;
    if (stepNum > this.totalSteps) {
      throw new BastionError(`OneCycleLR: stepped past the end of the schedule (step ${stepNum} of ${this.totalSteps})`, {
        hint: 'set totalSteps (or epochs and stepsPerEpoch) to the number of optimizer steps of the whole run',
      });
    }
    return this.optimizer.paramGroups.map((group, i) => {
      const bounds = this.#bounds[i] as GroupBounds;
      let start = 0;
      for (const [k, phase] of this.#phases.entries()) {
        if (stepNum <= phase.endStep || k === this.#phases.length - 1) {
          const pct = (stepNum - start) / (phase.endStep - start);
          if (this.#cycleMomentum) this.#setMomentum(group, this.#anneal(bounds[phase.startMomentum], bounds[phase.endMomentum], pct));
          return this.#anneal(bounds[phase.startLr], bounds[phase.endLr], pct);
        }
        start = phase.endStep;
      }
      throw new Error('OneCycleLR: unreachable');
    });
  }

  protected override extraState(): Record<string, unknown> {
    return { bounds: this.#bounds };
  }

  protected override loadExtraState(extra: Record<string, unknown> | undefined): void {
    const bounds = extra?.['bounds'];
    if (!Array.isArray(bounds) || bounds.length !== this.#bounds.length) throw new BastionError('OneCycleLR state: missing or wrong per-group bounds');
    this.#bounds = structuredClone(bounds) as GroupBounds[];
  }
}
