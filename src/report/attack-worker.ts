/**
 * The dashboard's model worker (a node:worker_threads thread started by src/report/attack-pool.ts):
 * it has its own copy of the native engine (the addon loads once per thread; tensor handles live in
 * a per-thread table, the CPU allocator is process-wide and locked), loads checkpoints into a
 * bounded least-recently-used cache (evicted models are disposed), and runs the playground's
 * attacks one at a time, so the HTTP server's event loop never waits on model work.
 *
 * Messages in: {@link WorkerRequest}. Messages out: `{ ready }` once started, {@link WorkerReply}
 * and `{ log }` lines.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DataError, describeError, BastionError } from '../util/errors.js';
import { noGrad, scope, tensor, type Tensor } from '../tensor/index.js';
import { convertChannels, decodeImage, encodePng, resizeImage, type RawImage } from '../io/image.js';
import { imageToTensor, tensorToPng } from '../io/image-tensor.js';
import { loadModel, type LoadedModel } from '../models/registry.js';
import type { Classifier } from '../models/index.js';
import { attackInfo, createAttack } from '../attacks/registry.js';
import type { Model } from '../attacks/types.js';
import { DefendedClassifier } from '../defenses/defended.js';
import { gradCam } from '../explain/gradcam.js';
import { heatmapOverlay } from '../explain/overlay.js';

/** One playground attack, with every path already resolved (inside its root) by the server. */
export interface AttackJob {
  classifierId: string;
  classifierDir: string;
  purifierId: string | null;
  purifierDir: string | null;
  attack: string;
  eps: number;
  mode: 'gray-box' | 'white-box' | 'bpda';
  steps: number | null;
  invert: boolean;
  /** The uploaded PNG/JPEG bytes, or null when `sample` is given. */
  upload: Uint8Array | null;
  /** A test image of a data set with its label and that label's class name there. */
  sample: { image: RawImage; label: number; className: string | undefined } | null;
  maxPixels: number;
}

/** A message to the worker. */
export interface WorkerRequest {
  id: number;
  job: AttackJob;
}

/** The worker's answer to one {@link WorkerRequest}. */
export type WorkerReply =
  | { id: number; ok: true; result: Record<string, unknown> }
  | { id: number; ok: false; status: number; message: string; hint?: string };

/** What the worker is started with. */
export interface WorkerSettings {
  /** Marks the thread as this worker (a module imported in some other worker thread stays passive). */
  bastionAttackWorker: true;
  /** Loaded models kept at most (least recently used ones are disposed first). */
  maxModels: number;
}

/** An error the worker reports with an HTTP status. */
class JobError extends Error {
  constructor(readonly status: number, message: string, readonly hint?: string) {
    super(message);
  }
}

/** One class with its probability. */
interface ClassScore {
  index: number;
  name: string;
  probability: number;
}

function dataUri(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
}

function topClasses(logits: Tensor, names: readonly string[], k: number): ClassScore[] {
  return scope(() => {
    const probs = logits.softmax(1).select(0, 0);
    const { values, indices } = probs.topk(Math.min(k, probs.shape[0] as number));
    const p = values.toNumbers();
    return indices.toNumbers().map((index, i) => ({ index, name: names[index] ?? `class ${index}`, probability: p[i] as number }));
  });
}

/** Converts decoded pixels to the classifier's channels and size (centre crop), as a [1,C,H,W] tensor in [0,1]. */
export function toModelInput(image: RawImage, channels: number, height: number, width: number, invert = false): Tensor {
  if (channels !== 1 && channels !== 3) throw new JobError(400, `the model takes ${channels}-channel images; the playground handles 1 or 3`);
  let raw = image.channels === channels ? image : convertChannels(image, channels);
  if (raw.width !== width || raw.height !== height) raw = resizeImage(raw, width, height, 'crop');
  return scope(() => {
    const x = imageToTensor(raw).unsqueeze(0);
    return invert ? x.neg().add(1) : x;
  });
}

/** Loaded models by checkpoint folder, in least-recently-used order (the first is the oldest). */
class ModelCache {
  private readonly entries = new Map<string, Promise<LoadedModel>>();

  constructor(private readonly limit: number, private readonly log: (line: string) => void) {}

  get(id: string, dir: string): Promise<LoadedModel> {
    let pending = this.entries.get(dir);
    if (pending) {
      this.entries.delete(dir);
      this.entries.set(dir, pending);
      return pending;
    }
    const started = performance.now();
    pending = loadModel(dir);
    this.entries.set(dir, pending);
    pending.then(() => this.log(`loaded model ${id} in ${((performance.now() - started) / 1000).toFixed(2)} s`), () => this.entries.delete(dir));
    return pending;
  }

  /** Disposes the least recently used models beyond the limit (called between jobs, so none is in use). */
  async trim(): Promise<void> {
    while (this.entries.size > this.limit) {
      const [dir, pending] = this.entries.entries().next().value as [string, Promise<LoadedModel>];
      this.entries.delete(dir);
      try {
        (await pending).model.dispose();
        this.log(`evicted model ${dir} (cache of ${this.limit})`);
      } catch {
        // a failed load holds nothing
      }
    }
  }
}

/** Runs one job (the body of the dashboard's POST /api/attack). */
async function runJob(job: AttackJob, models: ModelCache): Promise<Record<string, unknown>> {
  const classifierLoaded = await models.get(job.classifierId, job.classifierDir);
  if (classifierLoaded.kind !== 'classifier') throw new JobError(400, `'${job.classifierId}' is a purifier (${classifierLoaded.meta.architecture}); choose a classifier`);
  const purifierLoaded = job.purifierDir ? await models.get(job.purifierId ?? job.purifierDir, job.purifierDir) : null;
  if (purifierLoaded && purifierLoaded.kind !== 'purifier') throw new JobError(400, `'${job.purifierId}' is a classifier; choose a purifier`);
  const classifier: Classifier = classifierLoaded.model;
  const names = classifierLoaded.meta.classNames ?? [];
  if (purifierLoaded) {
    const p = purifierLoaded.model;
    if (p.channels !== classifier.channels || p.height !== classifier.height || p.width !== classifier.width) {
      throw new JobError(400, `the purifier takes ${p.channels}x${p.height}x${p.width} images but the classifier ${classifier.channels}x${classifier.height}x${classifier.width}`, 'choose a purifier trained on the same data');
    }
  }
  let image: RawImage;
  let label: number | null = null;
  if (job.upload) {
    try {
      image = decodeImage(job.upload, { name: 'the upload', maxPixels: job.maxPixels });
    } catch (error) {
      if (error instanceof DataError) throw new JobError(400, error.message, 'send a PNG or JPEG image');
      throw error;
    }
  } else if (job.sample) {
    image = job.sample.image;
    // The data set's label is the truth for this classifier when it names the same class in both.
    if (names[job.sample.label] !== undefined && names[job.sample.label] === job.sample.className) label = job.sample.label;
  } else {
    throw new JobError(400, 'no image', 'send a PNG or JPEG as the request body, or pass data=NAME&index=N');
  }

  const { eps, mode, steps, invert } = job;
  const started = performance.now();
  const defended = purifierLoaded ? new DefendedClassifier(purifierLoaded.model, classifier) : null;
  const info = attackInfo(job.attack);
  const attackOptions: Record<string, unknown> = { seed: 0, earlyStop: false, carryOver: false, ...(steps !== null && info.options.includes('steps') ? { steps } : {}) };
  const attack = createAttack(job.attack, Object.fromEntries(Object.entries(attackOptions).filter(([k]) => info.options.includes(k))));
  const result = scope(() => {
    const x = toModelInput(image, classifier.channels, classifier.height, classifier.width, invert);
    const cleanLogits = noGrad(() => classifier.forward(x));
    const labelSource = label === null ? 'the classifier\'s clean prediction' : 'the data set';
    const y = label ?? cleanLogits.argmax(1).item();
    const target: Model = !defended || mode === 'gray-box' ? classifier : mode === 'bpda' ? defended.bpda() : defended;
    const run = attack.run(target, x, tensor([y], { dtype: 'int64' }), { norm: 'linf', epsilons: [eps] });
    try {
      const adv = (run.perEpsilon[0] as { adversarial: Tensor }).adversarial.detach();
      const amplification = eps > 0 ? 1 / eps : 1;
      const delta = adv.sub(x);
      const linf = delta.abs().max().item();
      const advLogits = noGrad(() => classifier.forward(adv));
      const out: Record<string, unknown> = {
        classifier: job.classifierId, purifier: job.purifierId, attack: job.attack, eps, mode: defended ? mode : 'classifier only', steps, invert,
        label: y, labelName: names[y] ?? `class ${y}`, labelSource,
        clean: { png: dataUri(tensorToPng(x.select(0, 0))), top: topClasses(cleanLogits, names, 3) },
        adversarial: { png: dataUri(tensorToPng(adv.select(0, 0))), top: topClasses(advLogits, names, 3), linf },
        perturbation: { png: dataUri(tensorToPng(delta.mul(amplification * 0.5).add(0.5).clamp(0, 1).select(0, 0))), amplification },
        purified: null, purifiedClean: null, gradcam: null,
      };
      if (defended) {
        const purified = noGrad(() => defended.purify(adv));
        const purifiedClean = noGrad(() => defended.purify(x));
        out['purified'] = { png: dataUri(tensorToPng(purified.select(0, 0))), top: topClasses(noGrad(() => classifier.forward(purified)), names, 3) };
        out['purifiedClean'] = { png: dataUri(tensorToPng(purifiedClean.select(0, 0))), top: topClasses(noGrad(() => classifier.forward(purifiedClean)), names, 3) };
      }
      if (classifier.tapPoints.includes(classifier.camLayer)) {
        const overlay = (input: Tensor): string => dataUri(encodePng(heatmapOverlay(input.select(0, 0), gradCam(classifier, input).maps.select(0, 0))));
        out['gradcam'] = { clean: overlay(x), adversarial: overlay(adv) };
      }
      return out;
    } finally {
      run.dispose();
    }
  });
  return { ...result, seconds: (performance.now() - started) / 1000 };
}

function replyFor(id: number, error: unknown): WorkerReply {
  if (error instanceof JobError) return { id, ok: false, status: error.status, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  if (error instanceof BastionError) return { id, ok: false, status: 400, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  return { id, ok: false, status: 500, message: describeError(error) };
}

const settings = workerData as Partial<WorkerSettings> | null;
if (parentPort && settings?.bastionAttackWorker === true) {
  const port = parentPort;
  const log = (line: string): void => port.postMessage({ log: line });
  const models = new ModelCache(Math.max(1, settings.maxModels ?? 1), log);
  // Jobs run strictly one after another (the pool sends one at a time; this chain also guarantees it).
  let chain = Promise.resolve();
  port.on('message', (message: WorkerRequest) => {
    chain = chain.then(async () => {
      let reply: WorkerReply;
      try {
        reply = { id: message.id, ok: true, result: await runJob(message.job, models) };
      } catch (error) {
        if (!(error instanceof JobError) && !(error instanceof BastionError)) log(`error: ${error instanceof Error && error.stack ? error.stack : String(error)}`);
        reply = replyFor(message.id, error);
      }
      await models.trim();
      port.postMessage(reply);
    });
  });
  port.postMessage({ ready: true });
}
