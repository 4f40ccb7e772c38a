// Runtime facts and settings: threads, versions, CUDA, determinism.
#include "common.h"

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
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
// cpuBFloat16Native(): whether this CPU has bfloat16 arithmetic in hardware (AVX512-BF16, which
// every AMX-BF16 CPU also has); why it matters: src/tensor/runtime.ts cpuHasNativeBFloat16.
Napi::Value CpuBFloat16Native(const Napi::CallbackInfo& info) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return Napi::Boolean::New(info.Env(), __builtin_cpu_supports("avx512bf16") != 0);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
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

// setAutocast(device, enabled, dtype) -> [previousEnabled, previousDtype]: the thread-local
// automatic mixed precision switch of one device type ('cpu' or 'cuda'), as torch.autocast's
// __enter__ sets it. Ops on the autocast lists then run in `dtype` (convolutions, linear layers,
// matmuls) or float32 (losses, softmax, norms); parameters stay float32.
Napi::Value SetAutocast(const Napi::CallbackInfo& info) {
  const std::string device = ToString(info[0], "setAutocast device");
  const bool enabled = ToBool(info[1], "setAutocast enabled");
  const at::ScalarType dtype = ToDType(info[2], "setAutocast dtype");
  auto previous = Napi::Array::New(info.Env(), 2);
  if (device == "cpu") {
    previous.Set(0u, Napi::Boolean::New(info.Env(), at::autocast::is_cpu_enabled()));
    previous.Set(1u, Napi::String::New(info.Env(), DTypeName(at::autocast::get_autocast_cpu_dtype())));
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  } else if (device == "cuda") {
    previous.Set(0u, Napi::Boolean::New(info.Env(), at::autocast::is_enabled()));
    previous.Set(1u, Napi::String::New(info.Env(), DTypeName(at::autocast::get_autocast_gpu_dtype())));
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    ThrowType(info.Env(), "setAutocast: device must be 'cpu' or 'cuda', got '" + device + "'");
  }
  return previous;
}
// autocastNesting(delta) -> the nesting depth after adding delta (+1 on entering a region, -1 on
// leaving); leaving the outermost region drops the cache of float32 -> dtype weight casts.
Napi::Value AutocastNesting(const Napi::CallbackInfo& info) {
  const int64_t delta = ToInt(info[0], "autocastNesting delta");
  int depth = 0;
  if (delta > 0) {
    depth = at::autocast::increment_nesting();
  } else {
    depth = at::autocast::decrement_nesting();
    if (depth == 0) at::autocast::clear_cache();
  }
  return Napi::Number::New(info.Env(), depth);
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
  BASTION_EXPORT(exports, "cpuBFloat16Native", CpuBFloat16Native);
  BASTION_EXPORT(exports, "parallelInfo", ParallelInfo);
  BASTION_EXPORT(exports, "buildConfig", BuildConfig);
  BASTION_EXPORT(exports, "setDeterministic", SetDeterministic);
  BASTION_EXPORT(exports, "mallocStats", MallocStats);
  BASTION_EXPORT(exports, "liveHandles", LiveHandleCount);
  BASTION_EXPORT(exports, "setAutocast", SetAutocast);
  BASTION_EXPORT(exports, "autocastNesting", AutocastNesting);
}

}  // namespace bastion
