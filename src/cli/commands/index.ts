/** Every `bastion` sub-command, in the order `bastion --help` lists them. */
import type { Command } from '../command.js';
import { infoCommand } from './info.js';

export const commands: readonly Command[] = [infoCommand];
