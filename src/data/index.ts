/**
 * Bastion's data layer: data sets (IDX, CIFAR-10 binary, image folders), the DataLoader,
 * batch transforms, splits and K-fold, and finding, downloading and verifying data sets.
 */
export {
  TensorDataset, SubsetDataset, datasetLabels, classCounts, materialize, checkIndex,
  type Dataset, type Sample, type MemoryView, type ImageShape, type TensorDatasetArrays,
} from './dataset.js';
export { DataLoader, type DataLoaderOptions } from './loader.js';
export {
  normalize, randomCrop, horizontalFlip, gaussianNoise, compose, applyTransform, withTorchSeed, transformContext,
  type BatchTransform, type TransformContext, type RandomCropOptions,
} from './transforms.js';
export {
  trainValSplit, kFold, kFoldIndices, subsetByIndices, firstN, randomSubset, perClass,
  type Fold, type FoldIndices, type KFoldOptions, type TrainValSplitOptions,
} from './splits.js';
export {
  loadIdxDataset, loadIdxFolder, loadCifar10, readMaybeGzip, findIdxFile, idxFileNames, isGzip, CIFAR10_CLASSES, CIFAR10_ARCHIVE,
  type IdxDatasetOptions,
} from './readers.js';
export {
  loadImageFolder, scanImageFolder, listImageFolder, ImageFolderDataset, IMAGE_EXTENSIONS,
  type ImageFolderOptions, type FolderLayout, type FolderListing,
} from './folder.js';
export { cacheRoot } from './cache.js';
export { CATALOG, catalogEntry, type CatalogEntry, type CatalogFile } from './catalog.js';
export {
  loadDataset, HOLDOUT_FRACTION, locateDataset, describeSearch, searchPlaces, userDataDir, downloadRoot, sharedDataDir, missingHint, SOURCE_LABELS,
  type DataLocation, type LoadDatasetOptions, type LocateOptions, type LocationSource, type SearchedPlace,
} from './locate.js';
export {
  downloadFile, downloadDataset, verifyFile, verifyDataset, listDatasets, hashFile,
  type DownloadOptions, type DownloadResult, type DownloadDatasetOptions, type DownloadDatasetResult, type FileCheck, type DatasetCheck,
} from './download.js';
export { parseIdx, encodeIdx, type IdxArray, type IdxDType } from './formats/idx.js';
export { parseCifarBatch, parseCifarMeta, encodeCifarBatch, type CifarBatch } from './formats/cifar.js';
export { readTar, encodeTar, type TarEntry } from './formats/tar.js';
export { deriveRandom, mixSeed } from './seeds.js';
