// Neural-network functional ops and losses, one-to-one with ATen (torch.nn.functional).
#include "common.h"

namespace bastion {
namespace {

#define A0(name) const at::Tensor& a = ToTensor(info[0], name)

// conv2d(x, weight, bias|null, stride[2], padding[2], dilation[2], groups)
Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  A0("conv2d input");
  return Wrap(info.Env(), at::conv2d(a, ToTensor(info[1], "conv2d weight"), ToOptTensor(info[2], "conv2d bias"),
                                     ToIntList(info[3], "conv2d stride"), ToIntList(info[4], "conv2d padding"),
                                     ToIntList(info[5], "conv2d dilation"), ToInt(info[6], "conv2d groups")));
}
// convTranspose2d(x, weight, bias|null, stride, padding, outputPadding, groups, dilation)
Napi::Value ConvTranspose2d(const Napi::CallbackInfo& info) {
  A0("convTranspose2d input");
  return Wrap(info.Env(), at::conv_transpose2d(a, ToTensor(info[1], "convTranspose2d weight"),
                                               ToOptTensor(info[2], "convTranspose2d bias"),
                                               ToIntList(info[3], "convTranspose2d stride"),
                                               ToIntList(info[4], "convTranspose2d padding"),
                                               ToIntList(info[5], "convTranspose2d outputPadding"),
                                               ToInt(info[6], "convTranspose2d groups"),
                                               ToIntList(info[7], "convTranspose2d dilation")));
}
Napi::Value Linear(const Napi::CallbackInfo& info) {
  A0("linear input");
  return Wrap(info.Env(), at::linear(a, ToTensor(info[1], "linear weight"), ToOptTensor(info[2], "linear bias")));
}
// maxPool2d(x, kernel, stride, padding, dilation, ceilMode)
Napi::Value MaxPool2d(const Napi::CallbackInfo& info) {
  A0("maxPool2d");
  return Wrap(info.Env(), at::max_pool2d(a, ToIntList(info[1], "maxPool2d kernel"), ToIntList(info[2], "maxPool2d stride"),
                                         ToIntList(info[3], "maxPool2d padding"), ToIntList(info[4], "maxPool2d dilation"),
                                         ToBool(info[5], "maxPool2d ceilMode")));
}
// maxPool2dWithIndices(x, kernel, stride, padding, dilation, ceilMode) -> [values, indices]
// (indices flat over each channel's H*W plane, as libtorch gives them)
Napi::Value MaxPool2dWithIndices(const Napi::CallbackInfo& info) {
  A0("maxPool2dWithIndices");
  auto r = at::max_pool2d_with_indices(a, ToIntList(info[1], "maxPool2dWithIndices kernel"), ToIntList(info[2], "maxPool2dWithIndices stride"),
                                       ToIntList(info[3], "maxPool2dWithIndices padding"), ToIntList(info[4], "maxPool2dWithIndices dilation"),
                                       ToBool(info[5], "maxPool2dWithIndices ceilMode"));
  return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
}
// avgPool2d(x, kernel, stride, padding, ceilMode, countIncludePad)
Napi::Value AvgPool2d(const Napi::CallbackInfo& info) {
  A0("avgPool2d");
  return Wrap(info.Env(), at::avg_pool2d(a, ToIntList(info[1], "avgPool2d kernel"), ToIntList(info[2], "avgPool2d stride"),
                                         ToIntList(info[3], "avgPool2d padding"), ToBool(info[4], "avgPool2d ceilMode"),
                                         ToBool(info[5], "avgPool2d countIncludePad")));
}
Napi::Value AdaptiveAvgPool2d(const Napi::CallbackInfo& info) {
  A0("adaptiveAvgPool2d");
  return Wrap(info.Env(), at::adaptive_avg_pool2d(a, ToIntList(info[1], "adaptiveAvgPool2d outputSize")));
}
// batchNorm(x, weight|null, bias|null, runningMean|null, runningVar|null, training, momentum, eps).
// In training mode the running statistics are updated in place, as in PyTorch.
Napi::Value BatchNorm(const Napi::CallbackInfo& info) {
  A0("batchNorm");
  return Wrap(info.Env(), at::batch_norm(a, ToOptTensor(info[1], "batchNorm weight"), ToOptTensor(info[2], "batchNorm bias"),
                                         ToOptTensor(info[3], "batchNorm runningMean"),
                                         ToOptTensor(info[4], "batchNorm runningVar"), ToBool(info[5], "batchNorm training"),
                                         ToDouble(info[6], "batchNorm momentum"), ToDouble(info[7], "batchNorm eps"),
                                         at::globalContext().userEnabledCuDNN()));
}
// layerNorm(x, normalizedShape, weight|null, bias|null, eps)
Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  A0("layerNorm");
  return Wrap(info.Env(), at::layer_norm(a, ToIntList(info[1], "layerNorm normalizedShape"),
                                         ToOptTensor(info[2], "layerNorm weight"), ToOptTensor(info[3], "layerNorm bias"),
                                         ToDouble(info[4], "layerNorm eps")));
}
// groupNorm(x, groups, weight|null, bias|null, eps)
Napi::Value GroupNorm(const Napi::CallbackInfo& info) {
  A0("groupNorm");
  return Wrap(info.Env(), at::group_norm(a, ToInt(info[1], "groupNorm groups"), ToOptTensor(info[2], "groupNorm weight"),
                                         ToOptTensor(info[3], "groupNorm bias"), ToDouble(info[4], "groupNorm eps")));
}
Napi::Value Dropout(const Napi::CallbackInfo& info) {
  A0("dropout");
  return Wrap(info.Env(), at::dropout(a, ToDouble(info[1], "dropout p"), ToBool(info[2], "dropout training")));
}
Napi::Value Relu(const Napi::CallbackInfo& info) { A0("relu"); return Wrap(info.Env(), at::relu(a)); }
Napi::Value Sigmoid(const Napi::CallbackInfo& info) { A0("sigmoid"); return Wrap(info.Env(), at::sigmoid(a)); }
Napi::Value Tanh(const Napi::CallbackInfo& info) { A0("tanh"); return Wrap(info.Env(), at::tanh(a)); }
Napi::Value LogSigmoid(const Napi::CallbackInfo& info) { A0("logSigmoid"); return Wrap(info.Env(), at::log_sigmoid(a)); }
Napi::Value Softplus(const Napi::CallbackInfo& info) {
  A0("softplus");
  return Wrap(info.Env(), at::softplus(a, ToScalar(info[1], "softplus beta"), ToScalar(info[2], "softplus threshold")));
}
// gelu(x, approximate: 'none' | 'tanh')
Napi::Value Gelu(const Napi::CallbackInfo& info) {
  A0("gelu");
  return Wrap(info.Env(), at::gelu(a, IsNullish(info[1]) ? "none" : ToString(info[1], "gelu approximate")));
}
// elu(x, alpha, scale, inputScale): scale * (x > 0 ? x : alpha * (exp(x * inputScale) - 1)) (ELU, SELU).
Napi::Value Elu(const Napi::CallbackInfo& info) {
  A0("elu");
  return Wrap(info.Env(), at::elu(a, ToScalar(info[1], "elu alpha"), ToScalar(info[2], "elu scale"), ToScalar(info[3], "elu inputScale")));
}
Napi::Value Celu(const Napi::CallbackInfo& info) {
  A0("celu");
  return Wrap(info.Env(), at::celu(a, ToScalar(info[1], "celu alpha")));
}
Napi::Value Mish(const Napi::CallbackInfo& info) { A0("mish"); return Wrap(info.Env(), at::mish(a)); }
Napi::Value Hardswish(const Napi::CallbackInfo& info) { A0("hardswish"); return Wrap(info.Env(), at::hardswish(a)); }
Napi::Value LeakyRelu(const Napi::CallbackInfo& info) {
  A0("leakyRelu");
  return Wrap(info.Env(), at::leaky_relu(a, ToScalar(info[1], "leakyRelu slope")));
}
// upsampleNearest2d(x, outputSize[2])
Napi::Value UpsampleNearest2d(const Napi::CallbackInfo& info) {
  A0("interpolate");
  return Wrap(info.Env(), at::upsample_nearest2d(a, ToIntList(info[1], "interpolate size"), c10::nullopt, c10::nullopt));
}
// upsampleBilinear2d(x, outputSize[2], alignCorners)
Napi::Value UpsampleBilinear2d(const Napi::CallbackInfo& info) {
  A0("interpolate");
  return Wrap(info.Env(), at::upsample_bilinear2d(a, ToIntList(info[1], "interpolate size"),
                                                  ToBool(info[2], "interpolate alignCorners"), c10::nullopt, c10::nullopt));
}
// pad(x, pads, mode: constant|reflect|replicate|circular, value)
Napi::Value Pad(const Napi::CallbackInfo& info) {
  A0("pad");
  c10::optional<double> value;
  if (!IsNullish(info[3])) value = ToDouble(info[3], "pad value");
  return Wrap(info.Env(), at::pad(a, ToIntList(info[1], "pad pads"), ToString(info[2], "pad mode"), value));
}

// ---- losses --------------------------------------------------------------------------------
// crossEntropy(logits, target, weight|null, reduction, ignoreIndex, labelSmoothing):
// target holds class indices (int64) or class probabilities (float, same shape as logits).
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  A0("crossEntropy input");
  return Wrap(info.Env(), at::cross_entropy_loss(a, ToTensor(info[1], "crossEntropy target"),
                                                 ToOptTensor(info[2], "crossEntropy weight"),
                                                 ToReduction(info[3], "crossEntropy reduction"),
                                                 IsNullish(info[4]) ? -100 : ToInt(info[4], "crossEntropy ignoreIndex"),
                                                 IsNullish(info[5]) ? 0.0 : ToDouble(info[5], "crossEntropy labelSmoothing")));
}
// nllLoss(logProbs, target, weight|null, reduction, ignoreIndex)
Napi::Value NllLoss(const Napi::CallbackInfo& info) {
  A0("nllLoss input");
  return Wrap(info.Env(), at::nll_loss_nd(a, ToTensor(info[1], "nllLoss target"), ToOptTensor(info[2], "nllLoss weight"),
                                          ToReduction(info[3], "nllLoss reduction"),
                                          IsNullish(info[4]) ? -100 : ToInt(info[4], "nllLoss ignoreIndex")));
}
Napi::Value MseLoss(const Napi::CallbackInfo& info) {
  A0("mseLoss input");
  return Wrap(info.Env(), at::mse_loss(a, ToTensor(info[1], "mseLoss target"), ToReduction(info[2], "mseLoss reduction")));
}
Napi::Value L1Loss(const Napi::CallbackInfo& info) {
  A0("l1Loss input");
  return Wrap(info.Env(), at::l1_loss(a, ToTensor(info[1], "l1Loss target"), ToReduction(info[2], "l1Loss reduction")));
}
Napi::Value SmoothL1Loss(const Napi::CallbackInfo& info) {
  A0("smoothL1Loss input");
  return Wrap(info.Env(), at::smooth_l1_loss(a, ToTensor(info[1], "smoothL1Loss target"),
                                             ToReduction(info[2], "smoothL1Loss reduction"), ToDouble(info[3], "smoothL1Loss beta")));
}
// klDiv(logInput, target, reduction ('batchmean' is done in TypeScript as sum / N), logTarget)
Napi::Value KlDiv(const Napi::CallbackInfo& info) {
  A0("klDiv input");
  return Wrap(info.Env(), at::kl_div(a, ToTensor(info[1], "klDiv target"), ToReduction(info[2], "klDiv reduction"),
                                     ToBool(info[3], "klDiv logTarget")));
}
Napi::Value BinaryCrossEntropy(const Napi::CallbackInfo& info) {
  A0("binaryCrossEntropy input");
  return Wrap(info.Env(), at::binary_cross_entropy(a, ToTensor(info[1], "binaryCrossEntropy target"),
                                                   ToOptTensor(info[2], "binaryCrossEntropy weight"),
                                                   ToReduction(info[3], "binaryCrossEntropy reduction")));
}
Napi::Value BinaryCrossEntropyWithLogits(const Napi::CallbackInfo& info) {
  A0("binaryCrossEntropyWithLogits input");
  return Wrap(info.Env(), at::binary_cross_entropy_with_logits(
                              a, ToTensor(info[1], "binaryCrossEntropyWithLogits target"),
                              ToOptTensor(info[2], "binaryCrossEntropyWithLogits weight"), c10::nullopt,
                              ToReduction(info[3], "binaryCrossEntropyWithLogits reduction")));
}

}  // namespace

void RegisterNN(Napi::Env env, Napi::Object exports) {
  BASTION_EXPORT(exports, "conv2d", Conv2d);
  BASTION_EXPORT(exports, "convTranspose2d", ConvTranspose2d);
  BASTION_EXPORT(exports, "linear", Linear);
  BASTION_EXPORT(exports, "maxPool2d", MaxPool2d);
  BASTION_EXPORT(exports, "maxPool2dWithIndices", MaxPool2dWithIndices);
  BASTION_EXPORT(exports, "avgPool2d", AvgPool2d);
  BASTION_EXPORT(exports, "adaptiveAvgPool2d", AdaptiveAvgPool2d);
  BASTION_EXPORT(exports, "batchNorm", BatchNorm);
  BASTION_EXPORT(exports, "layerNorm", LayerNorm);
  BASTION_EXPORT(exports, "groupNorm", GroupNorm);
  BASTION_EXPORT(exports, "dropout", Dropout);
  BASTION_EXPORT(exports, "relu", Relu);
  BASTION_EXPORT(exports, "sigmoid", Sigmoid);
  BASTION_EXPORT(exports, "tanh", Tanh);
  BASTION_EXPORT(exports, "logSigmoid", LogSigmoid);
  BASTION_EXPORT(exports, "softplus", Softplus);
  BASTION_EXPORT(exports, "gelu", Gelu);
  BASTION_EXPORT(exports, "leakyRelu", LeakyRelu);
  BASTION_EXPORT(exports, "elu", Elu);
  BASTION_EXPORT(exports, "celu", Celu);
  BASTION_EXPORT(exports, "mish", Mish);
  BASTION_EXPORT(exports, "hardswish", Hardswish);
  BASTION_EXPORT(exports, "upsampleNearest2d", UpsampleNearest2d);
  BASTION_EXPORT(exports, "upsampleBilinear2d", UpsampleBilinear2d);
  BASTION_EXPORT(exports, "pad", Pad);
  BASTION_EXPORT(exports, "crossEntropy", CrossEntropy);
  BASTION_EXPORT(exports, "nllLoss", NllLoss);
  BASTION_EXPORT(exports, "mseLoss", MseLoss);
  BASTION_EXPORT(exports, "l1Loss", L1Loss);
  BASTION_EXPORT(exports, "smoothL1Loss", SmoothL1Loss);
  BASTION_EXPORT(exports, "klDiv", KlDiv);
  BASTION_EXPORT(exports, "binaryCrossEntropy", BinaryCrossEntropy);
  BASTION_EXPORT(exports, "binaryCrossEntropyWithLogits", BinaryCrossEntropyWithLogits);
}

}  // namespace bastion
