// Autograd: gradient flags, backward, torch.autograd.grad (with double backward), grad mode.
#include "common.h"

#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/variable.h>

namespace bastion {
namespace {

Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), ToTensor(info[0], "requiresGrad").requires_grad());
}
Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  at::Tensor t = ToTensor(info[0], "requiresGrad_");
  t.requires_grad_(ToBool(info[1], "requiresGrad_ flag"));
  return info.Env().Undefined();
}
Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), ToTensor(info[0], "isLeaf").is_leaf());
}
Napi::Value GradFnName(const Napi::CallbackInfo& info) {
  const auto& fn = ToTensor(info[0], "gradFn").grad_fn();
  if (!fn) return info.Env().Null();
  return Napi::String::New(info.Env(), fn->name());
}
// grad(t): the accumulated .grad of a leaf (or a retain_grad tensor), or null.
Napi::Value Grad(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), ToTensor(info[0], "grad").grad());
}
// setGrad(t, g|null): replaces .grad; null drops it (cheaper than zeroing: the next backward
// writes a fresh buffer instead of accumulating into the old one).
Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  at::Tensor t = ToTensor(info[0], "setGrad");
  auto g = ToOptTensor(info[1], "setGrad gradient");
  t.mutable_grad() = g ? *g : at::Tensor();
  return info.Env().Undefined();
}
Napi::Value RetainGrad(const Napi::CallbackInfo& info) {
  ToTensor(info[0], "retainGrad").retain_grad();
  return info.Env().Undefined();
}
// backward(t, gradient|null, retainGraph, createGraph)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  const auto& t = ToTensor(info[0], "backward");
  auto gradient = ToOptTensor(info[1], "backward gradient");
  c10::optional<bool> retain;
  if (!IsNullish(info[2])) retain = ToBool(info[2], "backward retainGraph");
  t.backward(gradient ? *gradient : at::Tensor(), retain, ToBool(info[3], "backward createGraph"));
  return info.Env().Undefined();
}
// autogradGrad(outputs[], inputs[], gradOutputs[]|null, retainGraph|null, createGraph, allowUnused)
// -> gradients (null where an input is unused and allowUnused is set). Parameter .grad fields are
// not touched, which is what attacks need when they differentiate with respect to the input only.
Napi::Value AutogradGrad(const Napi::CallbackInfo& info) {
  auto outputs = ToTensorList(info[0], "grad outputs");
  auto inputs = ToTensorList(info[1], "grad inputs");
  std::vector<at::Tensor> gradOutputs;
  if (!IsNullish(info[2])) gradOutputs = ToTensorList(info[2], "grad gradOutputs");
  c10::optional<bool> retain;
  if (!IsNullish(info[3])) retain = ToBool(info[3], "grad retainGraph");
  auto grads = torch::autograd::grad(outputs, inputs, gradOutputs, retain, ToBool(info[4], "grad createGraph"),
                                     ToBool(info[5], "grad allowUnused"));
  return WrapList(info.Env(), grads);
}
// setGradEnabled(flag) -> previous flag (thread-local grad mode, as torch.set_grad_enabled).
Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  const bool previous = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(ToBool(info[0], "setGradEnabled"));
  return Napi::Boolean::New(info.Env(), previous);
}
Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

}  // namespace

void RegisterAutograd(Napi::Env env, Napi::Object exports) {
  BASTION_EXPORT(exports, "requiresGrad", RequiresGrad);
  BASTION_EXPORT(exports, "setRequiresGrad", SetRequiresGrad);
  BASTION_EXPORT(exports, "isLeaf", IsLeaf);
  BASTION_EXPORT(exports, "gradFn", GradFnName);
  BASTION_EXPORT(exports, "grad", Grad);
  BASTION_EXPORT(exports, "setGrad", SetGrad);
  BASTION_EXPORT(exports, "retainGrad", RetainGrad);
  BASTION_EXPORT(exports, "backward", Backward);
  BASTION_EXPORT(exports, "autogradGrad", AutogradGrad);
  BASTION_EXPORT(exports, "setGradEnabled", SetGradEnabled);
  BASTION_EXPORT(exports, "isGradEnabled", IsGradEnabled);
}

}  // namespace bastion
