// Tensor creation, copies to and from JavaScript typed arrays, casts, queries, random numbers.
#include "common.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include <cstring>
#include <mutex>

namespace bastion {
namespace {

at::TensorOptions Options(const Napi::CallbackInfo& info, size_t dtypeIndex, at::ScalarType fallback) {
  auto dtype = IsNullish(info[dtypeIndex]) ? fallback : ToDType(info[dtypeIndex], "dtype");
  return at::TensorOptions().dtype(dtype).device(ToDevice(info[dtypeIndex + 1], "device"));
}

// fromBuffer(typedArray, shape, dtype): copies the typed array into a new CPU tensor.
Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
  if (!info[0].IsTypedArray()) ThrowType(info.Env(), "fromBuffer: expected a typed array");
  auto array = info[0].As<Napi::TypedArray>();
  auto shape = ToIntList(info[1], "fromBuffer shape");
  auto dtype = ToDType(info[2], "fromBuffer dtype");
  auto buffer = array.ArrayBuffer();
  void* data = static_cast<uint8_t*>(buffer.Data()) + array.ByteOffset();
  at::Tensor view = at::from_blob(data, shape, at::TensorOptions().dtype(dtype));
  if (static_cast<size_t>(view.numel()) * view.element_size() != array.ByteLength()) {
    ThrowType(info.Env(), "fromBuffer: shape does not match the typed array's length");
  }
  return Wrap(info.Env(), view.clone());
}

// toBuffer(t): copies a tensor into a new typed array of the matching kind (half types as float32).
Napi::Value ToBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor t = ToTensor(info[0], "toBuffer").detach();
  if (t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16) t = t.to(at::kFloat);
  t = t.to(at::kCPU).contiguous();
  const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
  auto buffer = Napi::ArrayBuffer::New(env, bytes);
  if (bytes != 0) std::memcpy(buffer.Data(), t.data_ptr(), bytes);
  const size_t n = static_cast<size_t>(t.numel());
  switch (t.scalar_type()) {
    case at::kFloat: return Napi::Float32Array::New(env, n, buffer, 0);
    case at::kDouble: return Napi::Float64Array::New(env, n, buffer, 0);
    case at::kLong: return Napi::BigInt64Array::New(env, n, buffer, 0);
    case at::kInt: return Napi::Int32Array::New(env, n, buffer, 0);
    case at::kShort: return Napi::Int16Array::New(env, n, buffer, 0);
    case at::kChar: return Napi::Int8Array::New(env, n, buffer, 0);
    case at::kByte:
    case at::kBool: return Napi::Uint8Array::New(env, n, buffer, 0);
    default: ThrowType(env, "toBuffer: unsupported dtype");
  }
}

Napi::Value Zeros(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::zeros(ToIntList(info[0], "zeros shape"), Options(info, 1, at::kFloat)));
}
Napi::Value Ones(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::ones(ToIntList(info[0], "ones shape"), Options(info, 1, at::kFloat)));
}
Napi::Value Empty(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::empty(ToIntList(info[0], "empty shape"), Options(info, 1, at::kFloat)));
}
Napi::Value Full(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::full(ToIntList(info[0], "full shape"), ToScalar(info[1], "full value"),
                                   Options(info, 2, at::kFloat)));
}
Napi::Value Arange(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::arange(ToScalar(info[0], "arange start"), ToScalar(info[1], "arange end"),
                                     ToScalar(info[2], "arange step"), Options(info, 3, at::kLong)));
}
Napi::Value Linspace(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::linspace(ToScalar(info[0], "linspace start"), ToScalar(info[1], "linspace end"),
                                       ToInt(info[2], "linspace steps"), Options(info, 3, at::kFloat)));
}
Napi::Value Eye(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::eye(ToInt(info[0], "eye n"), Options(info, 1, at::kFloat)));
}
Napi::Value Rand(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::rand(ToIntList(info[0], "rand shape"), Options(info, 1, at::kFloat)));
}
Napi::Value Randn(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::randn(ToIntList(info[0], "randn shape"), Options(info, 1, at::kFloat)));
}
Napi::Value Randint(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::randint(ToInt(info[0], "randint low"), ToInt(info[1], "randint high"),
                                      ToIntList(info[2], "randint shape"), Options(info, 3, at::kLong)));
}
Napi::Value Randperm(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::randperm(ToInt(info[0], "randperm n"), Options(info, 1, at::kLong)));
}
Napi::Value ZerosLike(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::zeros_like(ToTensor(info[0], "zerosLike")));
}
Napi::Value OnesLike(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::ones_like(ToTensor(info[0], "onesLike")));
}
Napi::Value FullLike(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::full_like(ToTensor(info[0], "fullLike"), ToScalar(info[1], "fullLike value")));
}
// emptyLike(t, format|null): uninitialised, same shape/dtype/device; 'channels_last' forces NHWC
// strides even where they are ambiguous (one channel), so later ops stay channels-last.
Napi::Value EmptyLike(const Napi::CallbackInfo& info) {
  const auto& t = ToTensor(info[0], "emptyLike");
  const bool channelsLast = !IsNullish(info[1]) && ToString(info[1], "emptyLike format") == "channels_last";
  return Wrap(info.Env(), at::empty_like(t, t.options(), channelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous));
}
Napi::Value RandLike(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::rand_like(ToTensor(info[0], "randLike")));
}
Napi::Value RandnLike(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::randn_like(ToTensor(info[0], "randnLike")));
}

// In-place random fills, used by parameter initialisation and noise layers.
Napi::Value Uniform_(const Napi::CallbackInfo& info) {
  ToTensor(info[0], "uniform_").uniform_(ToDouble(info[1], "uniform_ from"), ToDouble(info[2], "uniform_ to"));
  return info.Env().Undefined();
}
Napi::Value Normal_(const Napi::CallbackInfo& info) {
  ToTensor(info[0], "normal_").normal_(ToDouble(info[1], "normal_ mean"), ToDouble(info[2], "normal_ std"));
  return info.Env().Undefined();
}
Napi::Value Bernoulli(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::bernoulli(ToTensor(info[0], "bernoulli")));
}

Napi::Value ToDTypeOp(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), ToTensor(info[0], "to").to(ToDType(info[1], "to dtype")));
}
Napi::Value ToDeviceOp(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), ToTensor(info[0], "toDevice").to(ToDevice(info[1], "toDevice device")));
}
Napi::Value Clone(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), ToTensor(info[0], "clone").clone());
}
Napi::Value Detach(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), ToTensor(info[0], "detach").detach());
}
Napi::Value Contiguous(const Napi::CallbackInfo& info) {
  const auto& t = ToTensor(info[0], "contiguous");
  const bool channelsLast = !IsNullish(info[1]) && ToString(info[1], "contiguous format") == "channels_last";
  return Wrap(info.Env(), t.contiguous(channelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous));
}

Napi::Value Item(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Scalar s = ToTensor(info[0], "item").item();
  if (s.isBoolean()) return Napi::Boolean::New(env, s.toBool());
  if (s.isIntegral(false)) return Napi::Number::New(env, static_cast<double>(s.toLong()));
  return Napi::Number::New(env, s.toDouble());
}

Napi::Value Shape(const Napi::CallbackInfo& info) {
  const auto& t = ToTensor(info[0], "shape");
  auto sizes = t.sizes();
  auto array = Napi::Array::New(info.Env(), sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) array.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), sizes[i]));
  return array;
}
Napi::Value DType(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), DTypeName(ToTensor(info[0], "dtype").scalar_type()));
}
Napi::Value Numel(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(ToTensor(info[0], "numel").numel()));
}
Napi::Value DeviceOf(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), ToTensor(info[0], "device").device().str());
}
Napi::Value IsContiguous(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), ToTensor(info[0], "isContiguous").is_contiguous());
}
Napi::Value DisposeOp(const Napi::CallbackInfo& info) {
  Dispose(info.Env(), info[0]);
  return info.Env().Undefined();
}

// manualSeed(seed): seeds the default CPU generator and every CUDA generator.
Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  const auto seed = static_cast<uint64_t>(ToInt(info[0], "manualSeed"));
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
  if (at::hasCUDA()) {
    const auto& hooks = at::detail::getCUDAHooks();
    for (int i = 0; i < hooks.getNumGPUs(); ++i) {
      auto gen = hooks.getDefaultCUDAGenerator(i);
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_current_seed(seed);
    }
  }
  return info.Env().Undefined();
}

// The CPU generator's full state as a uint8 tensor, for exact resume of interrupted training.
Napi::Value GetRngState(const Napi::CallbackInfo& info) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return Wrap(info.Env(), gen.get_state());
}
Napi::Value SetRngState(const Napi::CallbackInfo& info) {
  const auto& state = ToTensor(info[0], "setRngState");
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
  return info.Env().Undefined();
}

}  // namespace

void RegisterCreation(Napi::Env env, Napi::Object exports) {
  BASTION_EXPORT(exports, "fromBuffer", FromBuffer);
  BASTION_EXPORT(exports, "toBuffer", ToBuffer);
  BASTION_EXPORT(exports, "zeros", Zeros);
  BASTION_EXPORT(exports, "ones", Ones);
  BASTION_EXPORT(exports, "empty", Empty);
  BASTION_EXPORT(exports, "full", Full);
  BASTION_EXPORT(exports, "arange", Arange);
  BASTION_EXPORT(exports, "linspace", Linspace);
  BASTION_EXPORT(exports, "eye", Eye);
  BASTION_EXPORT(exports, "rand", Rand);
  BASTION_EXPORT(exports, "randn", Randn);
  BASTION_EXPORT(exports, "randint", Randint);
  BASTION_EXPORT(exports, "randperm", Randperm);
  BASTION_EXPORT(exports, "zerosLike", ZerosLike);
  BASTION_EXPORT(exports, "onesLike", OnesLike);
  BASTION_EXPORT(exports, "fullLike", FullLike);
  BASTION_EXPORT(exports, "emptyLike", EmptyLike);
  BASTION_EXPORT(exports, "randLike", RandLike);
  BASTION_EXPORT(exports, "randnLike", RandnLike);
  BASTION_EXPORT(exports, "uniform_", Uniform_);
  BASTION_EXPORT(exports, "normal_", Normal_);
  BASTION_EXPORT(exports, "bernoulli", Bernoulli);
  BASTION_EXPORT(exports, "toDType", ToDTypeOp);
  BASTION_EXPORT(exports, "toDevice", ToDeviceOp);
  BASTION_EXPORT(exports, "clone", Clone);
  BASTION_EXPORT(exports, "detach", Detach);
  BASTION_EXPORT(exports, "contiguous", Contiguous);
  BASTION_EXPORT(exports, "item", Item);
  BASTION_EXPORT(exports, "shape", Shape);
  BASTION_EXPORT(exports, "dtype", DType);
  BASTION_EXPORT(exports, "numel", Numel);
  BASTION_EXPORT(exports, "device", DeviceOf);
  BASTION_EXPORT(exports, "isContiguous", IsContiguous);
  BASTION_EXPORT(exports, "dispose", DisposeOp);
  BASTION_EXPORT(exports, "manualSeed", ManualSeed);
  BASTION_EXPORT(exports, "getRngState", GetRngState);
  BASTION_EXPORT(exports, "setRngState", SetRngState);
}

}  // namespace bastion
