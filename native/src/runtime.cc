// Runtime facts and settings: threads, versions, CUDA, determinism.
#include "common.h"

#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

namespace bastion {
namespace {

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  at::set_num_threads(static_cast<int>(ToInt(info[0], "setNumThreads")));
  return info.Env().Undefined();
}
Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}
Napi::Value Version(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), TORCH_VERSION);
}
Napi::Value CudaAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::hasCUDA() && at::detail::getCUDAHooks().getNumGPUs() > 0);
}
Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0);
}
Napi::Value MkldnnAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::hasMKLDNN());
}
Napi::Value ParallelInfo(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), at::get_parallel_info());
}
Napi::Value BuildConfig(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), at::show_config());
}
Napi::Value SetDeterministic(const Napi::CallbackInfo& info) {
  at::globalContext().setDeterministicAlgorithms(ToBool(info[0], "setDeterministic"), false);
  return info.Env().Undefined();
}

}  // namespace

void RegisterRuntime(Napi::Env env, Napi::Object exports) {
  BASTION_EXPORT(exports, "setNumThreads", SetNumThreads);
  BASTION_EXPORT(exports, "getNumThreads", GetNumThreads);
  BASTION_EXPORT(exports, "version", Version);
  BASTION_EXPORT(exports, "cudaAvailable", CudaAvailable);
  BASTION_EXPORT(exports, "cudaDeviceCount", CudaDeviceCount);
  BASTION_EXPORT(exports, "mkldnnAvailable", MkldnnAvailable);
  BASTION_EXPORT(exports, "parallelInfo", ParallelInfo);
  BASTION_EXPORT(exports, "buildConfig", BuildConfig);
  BASTION_EXPORT(exports, "setDeterministic", SetDeterministic);
}

}  // namespace bastion
