/**
 * Provenance: where a checkpoint or result came from (DESIGN.md: "Results are JSON with
 * provenance (config, seed, git revision, library versions, machine, timings)").
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { torchVersion } from '../tensor/index.js';
import { packageRoot } from '../tensor/native.js';

/** The origin of an artefact: when, from which code and engine, on which machine, with which seed and command. */
export interface Provenance {
  /** ISO 8601 time of creation. */
  createdAt: string;
  /** `git rev-parse HEAD` of the Bastion checkout (null outside a git checkout), with `-dirty` when there are uncommitted changes. */
  gitRevision: string | null;
  bastionVersion: string;
  torchVersion: string;
  /** Node.js version, e.g. "v20.11.0". */
  node: string;
  machine: { hostname: string; cpus: number; cpuModel: string; platform: string; arch: string };
  seed?: number;
  /** The command line that produced the artefact. */
  command?: string;
}

let cachedRevision: string | null | undefined;

function gitRevision(): string | null {
  if (cachedRevision !== undefined) return cachedRevision;
  const git = (args: string[]): string => execFileSync('git', args, { cwd: packageRoot, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).toString().trim();
  try {
    const head = git(['rev-parse', 'HEAD']);
    let dirty = false;
    try {
      dirty = git(['status', '--porcelain', '--untracked-files=no']).length > 0;
    } catch {
      // status unavailable: report the revision alone
    }
    cachedRevision = dirty ? `${head}-dirty` : head;
  } catch {
    cachedRevision = null;
  }
  return cachedRevision;
}

let cachedVersion: string | undefined;

function bastionVersion(): string {
  cachedVersion ??= (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  return cachedVersion;
}

/** Collects the provenance of an artefact made now, by this process. */
export function collectProvenance(extra: { seed?: number; command?: string } = {}): Provenance {
  const cpuList = cpus();
  return {
    createdAt: new Date().toISOString(),
    gitRevision: gitRevision(),
    bastionVersion: bastionVersion(),
    torchVersion: torchVersion(),
    node: process.version,
    machine: { hostname: hostname(), cpus: cpuList.length, cpuModel: cpuList[0]?.model.trim() ?? 'unknown', platform: process.platform, arch: process.arch },
    ...(extra.seed === undefined ? {} : { seed: extra.seed }),
    ...(extra.command === undefined ? {} : { command: extra.command }),
  };
}
