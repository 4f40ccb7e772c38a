// Handle lifetime and argument conversion for the native addon (see common.h).
#include "common.h"

#include <ATen/core/Reduction.h>
#include <cmath>

namespace bastion {

namespace {

struct Slot {
  at::Tensor tensor;
  uint32_t generation = 0;
  int64_t reportedBytes = 0;  // bytes announced to V8 with AdjustExternalMemory
};

// One table per JavaScript thread (each Node worker has its own environment and thread).
struct HandleTable {
  std::vector<Slot> slots;
  std::vector<uint32_t> freeSlots;
  size_t live = 0;
};
thread_local HandleTable table;

int64_t ByteSize(const at::Tensor& t) {
  return static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size());
}

Slot& SlotOf(const Napi::Value& value, const char* what) {
  if (!value.IsBigInt()) ThrowType(value.Env(), std::string(what) + ": expected a tensor");
  bool lossless = true;
  const uint64_t handle = value.As<Napi::BigInt>().Uint64Value(&lossless);
  const uint32_t index = static_cast<uint32_t>(handle & 0xffffffffu);
  const uint32_t generation = static_cast<uint32_t>(handle >> 32);
  if (!lossless || index >= table.slots.size()) {
    ThrowType(value.Env(), std::string(what) + ": not a tensor handle of this thread");
  }
  Slot& slot = table.slots[index];
  if (slot.generation != generation || !slot.tensor.defined()) {
    throw Napi::Error::New(value.Env(), std::string(what) + ": tensor used after dispose");
  }
  return slot;
}

}  // namespace

size_t LiveHandles() { return table.live; }

[[noreturn]] void ThrowType(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

Napi::Value Wrap(Napi::Env env, at::Tensor tensor) {
  if (!tensor.defined()) return env.Null();
  uint32_t index;
  if (!table.freeSlots.empty()) {
    index = table.freeSlots.back();
    table.freeSlots.pop_back();
  } else {
    index = static_cast<uint32_t>(table.slots.size());
    table.slots.emplace_back();
  }
  Slot& slot = table.slots[index];
  slot.reportedBytes = ByteSize(tensor);
  slot.tensor = std::move(tensor);
  ++table.live;
  if (slot.reportedBytes != 0) Napi::MemoryManagement::AdjustExternalMemory(env, slot.reportedBytes);
  const uint64_t handle = (static_cast<uint64_t>(slot.generation) << 32) | index;
  return Napi::BigInt::New(env, handle);
}

Napi::Value WrapList(Napi::Env env, const std::vector<at::Tensor>& tensors) {
  auto array = Napi::Array::New(env, tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) array.Set(static_cast<uint32_t>(i), Wrap(env, tensors[i]));
  return array;
}

void Dispose(Napi::Env env, const Napi::Value& handle) {
  Slot& slot = SlotOf(handle, "dispose");
  if (slot.reportedBytes != 0) Napi::MemoryManagement::AdjustExternalMemory(env, -slot.reportedBytes);
  slot.reportedBytes = 0;
  slot.tensor.reset();
  ++slot.generation;
  --table.live;
  table.freeSlots.push_back(static_cast<uint32_t>(&slot - table.slots.data()));
}

const at::Tensor& ToTensor(const Napi::Value& value, const char* what) {
  return SlotOf(value, what).tensor;
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

// Integers arrive as JavaScript numbers; a fraction, NaN or an infinity is an error rather than
// being truncated (2.5 -> 2) or zeroed (NaN -> 0) as Int64Value() would. Magnitudes beyond int64
// saturate (callers pass 2^63 as "to the end").
int64_t ToInt(const Napi::Value& value, const char* what) {
  if (!value.IsNumber()) ThrowType(value.Env(), std::string(what) + ": expected an integer");
  const double v = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || std::trunc(v) != v) {
    ThrowType(value.Env(), std::string(what) + ": expected an integer, got " + value.ToString().Utf8Value());
  }
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

// Scalars are JavaScript numbers or booleans (BigInts are tensor handles). Numbers that are
// integers become integer scalars, so `intTensor + 2` stays an
// integer tensor while `intTensor * 0.5` promotes to float, as with Python literals.
at::Scalar ToScalar(const Napi::Value& value, const char* what) {
  if (value.IsBoolean()) return at::Scalar(value.As<Napi::Boolean>().Value());
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
