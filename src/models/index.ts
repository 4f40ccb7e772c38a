/** The model zoo: the papers' classifiers and purifiers, and the registry that names them. */
export { Classifier, type ClassifierShape, type Normalization, type Tap } from './classifier.js';
export { Purifier, type PurifierShape, type LatentNoiseConfig } from './purifier.js';
export { SimpleCNN, type SimpleCNNConfig } from './simple-cnn.js';
export { KfoldCNN } from './kfold-cnn.js';
export { LeNet, type LeNetConfig } from './lenet.js';
export { VGG16, type VGG16Config } from './vgg16.js';
export { ResNet18, BasicBlock, type ResNet18Config } from './resnet18.js';
export { ResNet9, ConvBNReLU, type ResNet9Config } from './resnet9.js';
export { CAE, ConvGELU, UpGELU, type CAEConfig, type SkipMode } from './cae.js';
export { CSAAE, type CSAAEConfig } from './csaae.js';
export { DAE, type DAEConfig } from './dae.js';
export {
  architectures, architecture, architectureOf, modelConfig, createModel, createClassifier, createPurifier, configOf,
  saveModel, saveImportedModel, loadModel, loadClassifier, loadPurifier, isImportableFile, IMPORTED_ARCHITECTURE, type Architecture, type DataShape, type ModelKind, type LoadedModel,
  type SaveModelInfo,
} from './registry.js';
export { ImportedClassifier, importClassifier, importFormatOf, type ImportOptions, type ResolvedImport, type ImportFormat, type OutputKind } from './imported.js';
export { OnnxNetwork, checkSupported, type OnnxRunResult, type OnnxGraphSummary } from './onnx/graph.js';
export { supportedOps } from './onnx/registry.js';
export {
  trainClassifier, fitClassifierOn, defaultRecipe, evaluateAccuracy, pixelStatistics,
  type ClassifierRecipe, type TrainClassifierOptions, type TrainClassifierResult, type ClassifierDataSets,
} from './train-classifier.js';
export {
  TorchScriptNetwork, TorchScriptSubmodule, inspectTorchFile,
  type TorchScriptLoadOptions, type TorchScriptDescription, type TorchFileInfo,
} from './torchscript.js';
