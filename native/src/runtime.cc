// Runtime facts and settings: threads, versions, CUDA, determinism.
#include "common.h"

#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

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

// mallocStats(): the C heap as glibc sees it (bytes in use, free but held, mmapped), or null
// elsewhere. Tells a real leak (in use grows) from allocator fragmentation (held grows).
Napi::Value MallocStats(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 m = mallinfo2();
  auto out = Napi::Object::New(info.Env());
  out.Set("inUse", Napi::Number::New(info.Env(), static_cast<double>(m.uordblks + m.hblkhd)));
  out.Set("freeHeld", Napi::Number::New(info.Env(), static_cast<double>(m.fordblks)));
  out.Set("mmapped", Napi::Number::New(info.Env(), static_cast<double>(m.hblkhd)));
  out.Set("arena", Napi::Number::New(info.Env(), static_cast<double>(m.arena)));
  return out;
#else
  return info.Env().Null();
#endif
}

Napi::Value LiveHandleCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(LiveHandles()));
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
  BASTION_EXPORT(exports, "mallocStats", MallocStats);
  BASTION_EXPORT(exports, "liveHandles", LiveHandleCount);
}

}  // namespace bastion
