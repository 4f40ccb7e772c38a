/** Every `bastion` sub-command, in the order `bastion --help` lists them. */
import type { Command } from '../command.js';
import { infoCommand } from './info.js';
import { dataCommand } from './data.js';
import { modelsCommand } from './models.js';
import { importCommand } from './import.js';
import { trainCommand } from './train.js';
import { predictCommand } from './predict.js';
import { trainPurifierCommand } from './train-purifier.js';
import { trainEnsembleCommand } from './train-ensemble.js';
import { evalCommand } from './eval.js';
import { attackCommand } from './attack.js';
import { gradcamCommand } from './gradcam.js';
import { evalAadCommand } from './eval-aad.js';
import { reproduceCommand } from './reproduce.js';
import { reportCommand } from './report.js';
import { serveCommand } from './serve.js';
import { demoCommand } from './demo.js';
import { defendCommand } from './defend.js';

export const commands: readonly Command[] = [infoCommand, dataCommand, modelsCommand, importCommand, trainCommand, trainPurifierCommand, trainEnsembleCommand, predictCommand, evalCommand, defendCommand, attackCommand, gradcamCommand, evalAadCommand, reproduceCommand, reportCommand, serveCommand, demoCommand];
