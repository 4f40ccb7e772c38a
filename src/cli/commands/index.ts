/** Every `bastion` sub-command, in the order `bastion --help` lists them. */
import type { Command } from '../command.js';
import { infoCommand } from './info.js';
import { dataCommand } from './data.js';

export const commands: readonly Command[] = [infoCommand, dataCommand];
