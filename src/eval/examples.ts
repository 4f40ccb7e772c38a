/**
 * Example pictures of an evaluation, captured once when an experiment runs so that reports show
 * real images of the run without recomputing anything: for the first few test images, the clean
 * image, the adversarial image and the amplified perturbation at every epsilon, the purified
 * images of each defense, Grad-CAM overlays, and every prediction with its confidence.
 *
 * Layout under the run directory: examples/<evaluation>/*.png and examples/<evaluation>.json
 * ({@link ExampleSet}); paths in the JSON are relative to the run directory.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { noGrad, scope, stack, tensor, type Tensor } from '../tensor/index.js';
import type { Dataset } from '../data/index.js';
import { createAttack } from '../attacks/registry.js';
import type { Model, ThreatModel } from '../attacks/types.js';
import type { Classifier } from '../models/index.js';
import type { DefendedClassifier } from '../defenses/defended.js';
import { encodePng } from '../io/image.js';
import { tensorToImage } from '../io/image-tensor.js';
import { gradCam } from '../explain/gradcam.js';
import { heatmapOverlay } from '../explain/overlay.js';
import { writeFileAtomic } from '../io/atomic.js';

/** A picture with the model's verdict on it. */
export interface ExampleImage {
  /** PNG path relative to the run directory. */
  png: string;
  prediction: number;
  confidence: number;
}

/** One test image through the attack (and the defenses). */
export interface ExampleSample {
  index: number;
  label: number;
  clean: ExampleImage;
  /** Grad-CAM of the classifier on the clean image (when it has a CAM layer). */
  cleanGradcam?: string;
  perEpsilon: {
    epsilon: number;
    adversarial: ExampleImage;
    /** The perturbation, amplified to the full range with mid-grey as zero. */
    perturbation: string;
    adversarialGradcam?: string;
    /** Each defense's purified version of the adversarial image and its verdict. */
    purified: Record<string, ExampleImage>;
  }[];
}

/** The examples of one evaluation (examples/<evaluation>.json). */
export interface ExampleSet {
  evaluation: string;
  attack: string;
  epsilons: number[];
  classNames: string[];
  /** The perturbations were amplified by this factor (1 / the largest epsilon). */
  amplification: number;
  samples: ExampleSample[];
}

function verdict(model: Model, x: Tensor): { predictions: number[]; confidences: number[] } {
  return noGrad(() => scope(() => {
    const probs = model.forward(x).softmax(1);
    const { values, indices } = probs.maxAlong(1);
    return { predictions: indices.toNumbers(), confidences: values.toNumbers() };
  }));
}

/**
 * Captures {@link ExampleSet} pictures for the first `count` images of `dataset`: attacked on
 * `classifier` alone (the gray-box examples), purified by each defense.
 */
export async function captureExamples(options: {
  runDir: string;
  evaluation: string;
  classifier: Classifier;
  defenses?: readonly { name: string; model: DefendedClassifier }[];
  dataset: Dataset;
  attack: string;
  attackOptions?: Record<string, unknown>;
  threat: ThreatModel;
  count?: number;
  seed?: number;
}): Promise<ExampleSet> {
  const count = Math.min(options.count ?? 6, options.dataset.length);
  const dir = join(options.runDir, 'examples', options.evaluation);
  await mkdir(dir, { recursive: true });
  const rel = (name: string): string => join('examples', options.evaluation, name);
  const files: [string, Uint8Array][] = [];
  const png = (name: string, image: Tensor): string => {
    files.push([join(dir, name), encodePng(tensorToImage(image))]);
    return rel(name);
  };
  const epsilons = [...options.threat.epsilons];
  const amplification = 1 / Math.max(...epsilons.filter((e) => e > 0), 1e-6);
  const camLayer = options.classifier.tapPoints.length > 0 ? options.classifier.camLayer : null;
  const overlay = (name: string, image: Tensor, map: Tensor): string => {
    files.push([join(dir, name), encodePng(heatmapOverlay(image, map))]);
    return rel(name);
  };
  const set = scope(() => {
    const samples = Array.from({ length: count }, (_, i) => options.dataset.get(i));
    const x = stack(samples.map((s) => s.image));
    const labels = samples.map((s) => s.label);
    const y = tensor(labels, { dtype: 'int64' });
    const clean = verdict(options.classifier, x);
    const cleanCams = camLayer ? gradCam(options.classifier, x).maps : null;
    const attack = createAttack(options.attack, { ...options.attackOptions, earlyStop: false, carryOver: false, ...(options.seed === undefined ? {} : { seed: options.seed }) });
    const result = attack.run(options.classifier, x, y, options.threat);
    try {
      const perEps = result.perEpsilon.map((r) => {
        const adv = verdict(options.classifier, r.adversarial);
        const cams = camLayer ? gradCam(options.classifier, r.adversarial).maps : null;
        const purified = (options.defenses ?? []).map((d) => {
          const images = noGrad(() => d.model.purify(r.adversarial));
          return { name: d.name, images, verdict: verdict(d.model, r.adversarial) };
        });
        return { r, adv, cams, purified };
      });
      return samples.map((s, i): ExampleSample => ({
        index: i,
        label: s.label,
        clean: { png: png(`clean-${i}.png`, x.select(0, i)), prediction: clean.predictions[i] as number, confidence: clean.confidences[i] as number },
        ...(cleanCams ? { cleanGradcam: overlay(`clean-${i}-gradcam.png`, x.select(0, i), cleanCams.select(0, i)) } : {}),
        perEpsilon: perEps.map(({ r, adv, cams, purified }, e) => {
          const adversarial = r.adversarial.select(0, i);
          const delta = adversarial.sub(x.select(0, i)).mul(amplification * 0.5).add(0.5).clamp(0, 1);
          return {
            epsilon: r.epsilon,
            adversarial: { png: png(`adv-${i}-eps${e}.png`, adversarial), prediction: adv.predictions[i] as number, confidence: adv.confidences[i] as number },
            perturbation: png(`delta-${i}-eps${e}.png`, delta),
            ...(cams ? { adversarialGradcam: overlay(`adv-${i}-eps${e}-gradcam.png`, adversarial, cams.select(0, i)) } : {}),
            purified: Object.fromEntries(purified.map((p) => [p.name, {
              png: png(`purified-${p.name}-${i}-eps${e}.png`, p.images.select(0, i)),
              prediction: p.verdict.predictions[i] as number, confidence: p.verdict.confidences[i] as number,
            }])),
          };
        }),
      }));
    } finally {
      result.dispose();
    }
  });
  for (const [file, bytes] of files) await writeFile(file, bytes);
  const out: ExampleSet = {
    evaluation: options.evaluation, attack: options.attack, epsilons, classNames: [...options.dataset.classNames], amplification, samples: set,
  };
  await writeFileAtomic(join(options.runDir, 'examples', `${options.evaluation}.json`), `${JSON.stringify(out, null, 2)}\n`);
  return out;
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
