// Handle lifetime and argument conversion for the native addon (see common.h).
#include "common.h"

#include <ATen/core/Reduction.h>

namespace bastion {

namespace {

// Tags every handle so that a foreign External can never be mistaken for a tensor.
const napi_type_tag kTensorTag = {0x6261737469616e21ULL, 0x74656e736f722121ULL};

int64_t ByteSize(const at::Tensor& t) {
  if (!t.defined()) return 0;
  return static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size());
}

void Finalize(Napi::Env env, TensorBox* box) {
  if (box->reportedBytes != 0) Napi::MemoryManagement::AdjustExternalMemory(env, -box->reportedBytes);
  delete box;
}

TensorBox* BoxOf(const Napi::Value& value, const char* what) {
  if (!value.IsExternal()) {
    ThrowType(value.Env(), std::string(what) + ": expected a tensor");
  }
  auto external = value.As<Napi::External<TensorBox>>();
  if (!external.CheckTypeTag(&kTensorTag)) {
    ThrowType(value.Env(), std::string(what) + ": expected a tensor, got a foreign native object");
  }
  return external.Data();
}

}  // namespace

[[noreturn]] void ThrowType(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

Napi::Value Wrap(Napi::Env env, at::Tensor tensor) {
  if (!tensor.defined()) return env.Null();
  auto* box = new TensorBox{std::move(tensor), 0};
  box->reportedBytes = ByteSize(box->tensor);
  if (box->reportedBytes != 0) Napi::MemoryManagement::AdjustExternalMemory(env, box->reportedBytes);
  auto external = Napi::External<TensorBox>::New(env, box, Finalize);
  external.TypeTag(&kTensorTag);
  return external;
}

Napi::Value WrapList(Napi::Env env, const std::vector<at::Tensor>& tensors) {
  auto array = Napi::Array::New(env, tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) array.Set(static_cast<uint32_t>(i), Wrap(env, tensors[i]));
  return array;
}

void Dispose(Napi::Env env, const Napi::Value& handle) {
  TensorBox* box = BoxOf(handle, "dispose");
  if (box->reportedBytes != 0) {
    Napi::MemoryManagement::AdjustExternalMemory(env, -box->reportedBytes);
    box->reportedBytes = 0;
  }
  box->tensor.reset();
}

const at::Tensor& ToTensor(const Napi::Value& value, const char* what) {
  TensorBox* box = BoxOf(value, what);
  if (!box->tensor.defined()) {
    throw Napi::Error::New(value.Env(), std::string(what) + ": tensor used after dispose");
  }
  return box->tensor;
}

c10::optional<at::Tensor> ToOptTensor(const Napi::Value& value, const char* what) {
  if (IsNullish(value)) return c10::nullopt;
  return ToTensor(value, what);
}

std::vector<at::Tensor> ToTensorList(const Napi::Value& value, const char* what) {
  if (!value.IsArray()) ThrowType(value.Env(), std::string(what) + ": expected an array of tensors");
  auto array = value.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) out.push_back(ToTensor(array.Get(i), what));
  return out;
}

std::vector<int64_t> ToIntList(const Napi::Value& value, const char* what) {
  if (value.IsNumber()) return {ToInt(value, what)};
  if (!value.IsArray()) ThrowType(value.Env(), std::string(what) + ": expected an array of integers");
  auto array = value.As<Napi::Array>();
  std::vector<int64_t> out(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) out[i] = ToInt(array.Get(i), what);
  return out;
}

c10::optional<std::vector<int64_t>> ToOptIntList(const Napi::Value& value, const char* what) {
  if (IsNullish(value)) return c10::nullopt;
  return ToIntList(value, what);
}

int64_t ToInt(const Napi::Value& value, const char* what) {
  if (value.IsBigInt()) {
    bool lossless = true;
    int64_t v = value.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) ThrowType(value.Env(), std::string(what) + ": integer out of int64 range");
    return v;
  }
  if (!value.IsNumber()) ThrowType(value.Env(), std::string(what) + ": expected an integer");
  return value.As<Napi::Number>().Int64Value();
}

double ToDouble(const Napi::Value& value, const char* what) {
  if (!value.IsNumber()) ThrowType(value.Env(), std::string(what) + ": expected a number");
  return value.As<Napi::Number>().DoubleValue();
}

bool ToBool(const Napi::Value& value, const char* what) {
  if (IsNullish(value)) return false;
  if (!value.IsBoolean()) ThrowType(value.Env(), std::string(what) + ": expected a boolean");
  return value.As<Napi::Boolean>().Value();
}

std::string ToString(const Napi::Value& value, const char* what) {
  if (!value.IsString()) ThrowType(value.Env(), std::string(what) + ": expected a string");
  return value.As<Napi::String>().Utf8Value();
}

// JavaScript numbers that are integers become integer scalars, so `intTensor + 2` stays an
// integer tensor while `intTensor * 0.5` promotes to float, as with Python literals.
at::Scalar ToScalar(const Napi::Value& value, const char* what) {
  if (value.IsBoolean()) return at::Scalar(value.As<Napi::Boolean>().Value());
  if (value.IsBigInt()) return at::Scalar(ToInt(value, what));
  if (!value.IsNumber()) ThrowType(value.Env(), std::string(what) + ": expected a number");
  double v = value.As<Napi::Number>().DoubleValue();
  if (std::isfinite(v) && std::floor(v) == v && std::fabs(v) < 9007199254740992.0) {
    return at::Scalar(static_cast<int64_t>(v));
  }
  return at::Scalar(v);
}

c10::optional<at::Scalar> ToOptScalar(const Napi::Value& value, const char* what) {
  if (IsNullish(value)) return c10::nullopt;
  return ToScalar(value, what);
}

at::ScalarType ToDType(const Napi::Value& value, const char* what) {
  const std::string name = ToString(value, what);
  if (name == "float32") return at::kFloat;
  if (name == "float64") return at::kDouble;
  if (name == "float16") return at::kHalf;
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "int64") return at::kLong;
  if (name == "int32") return at::kInt;
  if (name == "int16") return at::kShort;
  if (name == "int8") return at::kChar;
  if (name == "uint8") return at::kByte;
  if (name == "bool") return at::kBool;
  ThrowType(value.Env(), std::string(what) + ": unknown dtype '" + name + "'");
}

c10::optional<at::ScalarType> ToOptDType(const Napi::Value& value, const char* what) {
  if (IsNullish(value)) return c10::nullopt;
  return ToDType(value, what);
}

const char* DTypeName(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return "unsupported";
  }
}

at::Device ToDevice(const Napi::Value& value, const char* what) {
  if (IsNullish(value)) return at::Device(at::kCPU);
  return at::Device(ToString(value, what));
}

int64_t ToReduction(const Napi::Value& value, const char* what) {
  if (IsNullish(value)) return at::Reduction::Mean;
  const std::string name = ToString(value, what);
  if (name == "mean") return at::Reduction::Mean;
  if (name == "sum") return at::Reduction::Sum;
  if (name == "none") return at::Reduction::None;
  ThrowType(value.Env(), std::string(what) + ": reduction must be 'mean', 'sum' or 'none', got '" + name + "'");
}

}  // namespace bastion
