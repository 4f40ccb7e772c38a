/**
 * Finding data sets on disk and loading them by name. Search order for a known set:
 * 1. `--data-dir DIR` (DIR/<name>, or DIR itself when it is named after the set),
 * 2. `$BASTION_DATA` (same rules),
 * 3. the user data folder where `bastion data download` puts sets by default
 *    (`$XDG_DATA_HOME/bastion/data`, else `~/.local/share/bastion/data`),
 * 4. system places (Debian's dataset-fashion-mnist package: /usr/share/datasets/fashion-mnist),
 * 5. `../shared/data/<name>` beside the Bastion checkout.
 * Any other name is taken as a path: an image folder, an MNIST-style IDX folder or CIFAR batches.
 */
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { packageRoot } from '../tensor/native.js';
import { DataError } from '../util/errors.js';
import { CATALOG, catalogEntry, type CatalogEntry } from './catalog.js';
import { SubsetDataset, type Dataset } from './dataset.js';
import { trainValSplit } from './splits.js';
import { loadImageFolder, scanImageFolder, type ImageFolderOptions } from './folder.js';
import { findIdxFile, idxFileNames, loadCifar10, loadIdxFolder, resolveCifarSource } from './readers.js';

/** How a data set was found. */
export type LocationSource = 'flag' | 'env' | 'user' | 'system' | 'shared' | 'path';

/** Human-readable names of the sources. */
export const SOURCE_LABELS: Record<LocationSource, string> = {
  flag: '--data-dir',
  env: '$BASTION_DATA',
  user: 'user data folder',
  system: 'system package',
  shared: 'shared/data beside the checkout',
  path: 'path given',
};

/** Where a data set is. */
export interface DataLocation {
  /** The catalog name, or the path's base name. */
  name: string;
  entry: CatalogEntry | undefined;
  path: string;
  via: LocationSource;
  kind: CatalogEntry['kind'];
}

/** One place searched for a data set. */
export interface SearchedPlace {
  path: string;
  via: LocationSource;
  status: 'found' | 'incomplete' | 'missing';
  /** What is missing, for incomplete places. */
  detail?: string;
}

/** Options shared by the locating functions. */
export interface LocateOptions {
  /** The --data-dir given on the command line. */
  dataDir?: string;
}

/** The user data folder: `$XDG_DATA_HOME/bastion/data`, else `~/.local/share/bastion/data`. */
export function userDataDir(): string {
  const xdg = process.env['XDG_DATA_HOME'];
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.local', 'share'), 'bastion', 'data');
}

/** Where `bastion data download` puts sets: --data-dir, else $BASTION_DATA, else {@link userDataDir}. */
export function downloadRoot(options: LocateOptions = {}): string {
  const env = process.env['BASTION_DATA'];
  return resolve(options.dataDir ?? (env !== undefined && env !== '' ? env : userDataDir()));
}

/** The folder beside the checkout that holds the project's shared data (`../shared/data`). */
export function sharedDataDir(): string {
  return join(packageRoot, '..', 'shared', 'data');
}

function candidatesIn(root: string, entry: CatalogEntry, via: LocationSource): { path: string; via: LocationSource }[] {
  const out = entry.folderNames.map((f) => ({ path: join(root, f), via }));
  if (entry.folderNames.some((f) => f.toLowerCase() === basename(root).toLowerCase())) out.unshift({ path: root, via });
  return out;
}

/** Every place searched for a catalog set, in order. */
export function searchPlaces(entry: CatalogEntry, options: LocateOptions = {}): { path: string; via: LocationSource }[] {
  const places: { path: string; via: LocationSource }[] = [];
  if (options.dataDir !== undefined) places.push(...candidatesIn(resolve(options.dataDir), entry, 'flag'));
  const env = process.env['BASTION_DATA'];
  if (env !== undefined && env !== '') places.push(...candidatesIn(resolve(env), entry, 'env'));
  places.push(...candidatesIn(userDataDir(), entry, 'user'));
  for (const p of entry.systemPaths) places.push({ path: p, via: 'system' });
  places.push({ path: join(sharedDataDir(), entry.name), via: 'shared' });
  const seen = new Set<string>();
  return places.filter((p) => (seen.has(p.path) ? false : (seen.add(p.path), true)));
}

/** Whether `dir` holds the set: 'found', 'incomplete' (with what is missing) or 'missing'. */
export function checkPlace(kind: CatalogEntry['kind'], dir: string): { status: SearchedPlace['status']; detail?: string } {
  if (!existsSync(dir)) return { status: 'missing' };
  if (kind === 'idx') {
    if (!statSync(dir).isDirectory()) return { status: 'missing' };
    const needed = [idxFileNames('train'), idxFileNames('test')].flatMap((n) => [n.images, n.labels]);
    const absent = needed.filter((n) => findIdxFile(dir, n) === null);
    if (absent.length === needed.length) return { status: 'missing' };
    return absent.length === 0 ? { status: 'found' } : { status: 'incomplete', detail: `missing ${absent.join(', ')}` };
  }
  if (kind === 'cifar10') return resolveCifarSource(dir) === null ? { status: 'missing' } : { status: 'found' };
  try {
    scanImageFolder(dir);
    return { status: 'found' };
  } catch (error) {
    return { status: 'incomplete', detail: error instanceof Error ? error.message : String(error) };
  }
}

/** What a search for a catalog set found, place by place. */
export function describeSearch(entry: CatalogEntry, options: LocateOptions = {}): { found: DataLocation | null; searched: SearchedPlace[] } {
  const searched: SearchedPlace[] = [];
  let found: DataLocation | null = null;
  for (const place of searchPlaces(entry, options)) {
    const check = checkPlace(entry.kind, place.path);
    searched.push({ ...place, ...check });
    if (found === null && check.status === 'found') found = { name: entry.name, entry, path: place.path, via: place.via, kind: entry.kind };
  }
  return { found, searched };
}

/** What to tell a user whose data set is missing. */
export function missingHint(entry: CatalogEntry): string {
  if (entry.files.length > 0 && entry.files.every((f) => f.urls.length > 0)) {
    return `run \`bastion data download ${entry.name}\`, or pass --data-dir / set BASTION_DATA to a folder holding ${entry.folderNames[0]}/`;
  }
  return entry.manual ?? `put it in a folder and pass --data-dir`;
}

/** Detects what kind of data set a folder or file is. */
function detectKind(path: string): CatalogEntry['kind'] {
  if (statSync(path).isDirectory()) {
    const n = idxFileNames('train');
    const t = idxFileNames('test');
    if ([n.images, t.images].some((f) => findIdxFile(path, f) !== null)) return 'idx';
  }
  return resolveCifarSource(path) !== null ? 'cifar10' : 'folder';
}

/**
 * Finds a data set by catalog name (see the module comment for the search order) or path. Throws
 * a {@link DataError} listing the places searched, with a hint on how to get the set.
 */
export function locateDataset(name: string, options: LocateOptions = {}): DataLocation {
  const entry = catalogEntry(name);
  if (entry === undefined) {
    const path = resolve(name);
    if (!existsSync(path)) {
      throw new DataError(name, `no such data set or path; known data sets: ${CATALOG.map((e) => e.name).join(', ')}`,
        'give a known name or the path of an image folder (root/<class>/*.png|jpg) or an MNIST-style IDX folder');
    }
    return { name: basename(path), entry: undefined, path, via: 'path', kind: detectKind(path) };
  }
  const { found, searched } = describeSearch(entry, options);
  if (found !== null) return found;
  const incomplete = searched.find((s) => s.status === 'incomplete');
  const where = incomplete ? `${incomplete.path} is incomplete (${incomplete.detail})` : `looked in ${searched.map((s) => s.path).join(', ')}`;
  throw new DataError(entry.name, `data set not found: ${where}`, missingHint(entry));
}

/** Options of {@link loadDataset}. */
export interface LoadDatasetOptions extends LocateOptions, Omit<ImageFolderOptions, 'name' | 'hint'> {
  /** train or test (IDX, CIFAR); train, val, test or all (image folders). */
  split?: string;
  /** CIFAR-10: require the official 10,000 records per batch file (default true; false for small fixtures in CIFAR format). */
  strictCounts?: boolean;
}

/** Share of a split-less image folder held out as its `test` split (stratified, seed 0). */
export const HOLDOUT_FRACTION = 0.2;

/**
 * Locates and loads a data set by name or path. IDX and CIFAR sets come in their native shape
 * ([1,28,28], [3,32,32]); `size`, `channels`, `fit`, `inMemory` and the cache options apply to
 * image folders (default 64x64 RGB). A folder without split sub-folders has no test images of
 * its own: `train` and `test` then take a fixed, stratified {@link HOLDOUT_FRACTION} of it apart.
 */
export async function loadDataset(name: string, options: LoadDatasetOptions = {}): Promise<Dataset> {
  const location = locateDataset(name, options);
  const entry = location.entry;
  const hint = entry ? missingHint(entry) : undefined;
  if (location.kind === 'idx' || location.kind === 'cifar10') {
    const split = options.split ?? 'train';
    if (split !== 'train' && split !== 'test') {
      throw new DataError(location.name, `has no '${split}' split; it has train and test`, 'split a validation set off train with trainValSplit()');
    }
    const common = { name: `${location.name}/${split}`, ...(hint === undefined ? {} : { hint }) };
    if (location.kind === 'idx') return loadIdxFolder(location.path, split, { ...common, ...(entry?.classNames ? { classNames: entry.classNames } : {}) });
    return loadCifar10(location.path, split, { ...common, ...(options.strictCounts === false ? { strictCounts: false } : {}) });
  }
  const { dataDir: _dataDir, split, strictCounts: _strictCounts, ...folderOptions } = options;
  void _dataDir;
  void _strictCounts;
  if ((split === 'train' || split === 'test') && scanImageFolder(location.path).splits === null) {
    // A split-less folder (root/<class>/*) has no separate test images: hold out a fixed,
    // stratified share for `test` and train on the rest, so the two never overlap.
    const all = await loadImageFolder(location.path, { ...folderOptions, split: 'all', ...(hint === undefined ? {} : { hint }), namePrefix: location.name });
    const parts = trainValSplit(all, { valFraction: HOLDOUT_FRACTION, seed: 0, stratified: true });
    const chosen = split === 'train' ? parts.train : parts.val;
    return new SubsetDataset(all, chosen.indices, `${location.name}/${split} (${split === 'test' ? '' : 'all but '}a held-out ${Math.round(HOLDOUT_FRACTION * 100)}% of a split-less folder)`, { ownsBase: true });
  }
  return loadImageFolder(location.path, { ...folderOptions, ...(split === undefined ? {} : { split }), ...(hint === undefined ? {} : { hint }), namePrefix: location.name });
}
