// Shared plumbing of the Bastion native addon: the tensor handle, argument conversion and the
// exception guard. The addon is deliberately thin: every exported function maps to one ATen or
// autograd call. Argument validation with friendly messages lives in TypeScript (src/tensor);
// here we only convert values and turn C++ exceptions into JavaScript errors.
#pragma once

#include <napi.h>

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace bastion {

// Tensor handles are JavaScript BigInts: (generation << 32) | slot index into a per-thread slot
// table. Creating a handle allocates nothing native and needs no finalizer, so disposed tensors
// cost the garbage collector nothing; a stale handle is caught by its generation. `Dispose`
// releases the tensor at once; TypeScript's FinalizationRegistry disposes forgotten handles.

// Wraps a tensor in a new handle (undefined tensors become JavaScript null).
Napi::Value Wrap(Napi::Env env, at::Tensor tensor);
Napi::Value WrapList(Napi::Env env, const std::vector<at::Tensor>& tensors);
// Releases the tensor behind a handle now; later use throws "used after dispose".
void Dispose(Napi::Env env, const Napi::Value& handle);

// Argument conversion. `what` names the argument in error messages.
const at::Tensor& ToTensor(const Napi::Value& value, const char* what);
c10::optional<at::Tensor> ToOptTensor(const Napi::Value& value, const char* what);
std::vector<at::Tensor> ToTensorList(const Napi::Value& value, const char* what);
std::vector<int64_t> ToIntList(const Napi::Value& value, const char* what);
c10::optional<std::vector<int64_t>> ToOptIntList(const Napi::Value& value, const char* what);
int64_t ToInt(const Napi::Value& value, const char* what);
double ToDouble(const Napi::Value& value, const char* what);
bool ToBool(const Napi::Value& value, const char* what);
std::string ToString(const Napi::Value& value, const char* what);
at::Scalar ToScalar(const Napi::Value& value, const char* what);
c10::optional<at::Scalar> ToOptScalar(const Napi::Value& value, const char* what);
at::ScalarType ToDType(const Napi::Value& value, const char* what);
c10::optional<at::ScalarType> ToOptDType(const Napi::Value& value, const char* what);
at::Device ToDevice(const Napi::Value& value, const char* what);
const char* DTypeName(at::ScalarType type);
int64_t ToReduction(const Napi::Value& value, const char* what);

inline bool IsNullish(const Napi::Value& value) { return value.IsUndefined() || value.IsNull(); }
// True if the value is a tensor handle (scalars are JavaScript numbers or booleans).
inline bool IsTensorHandle(const Napi::Value& value) { return value.IsBigInt(); }
// Number of live handles of the calling thread (diagnostics).
size_t LiveHandles();

// Throws a JavaScript TypeError from C++ (caught by node-addon-api).
[[noreturn]] void ThrowType(Napi::Env env, const std::string& message);

// Turns libtorch (c10::Error) and standard exceptions into JavaScript errors. Only the first
// line of a c10 message is kept; the TypeScript layer adds the op name and argument shapes.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value Guard(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

#define BASTION_EXPORT(exports, name, fn) \
  (exports).Set(name, Napi::Function::New<::bastion::Guard<fn>>((exports).Env(), name))

void RegisterAllocator(Napi::Env env, Napi::Object exports);
void RegisterCreation(Napi::Env env, Napi::Object exports);
void RegisterMath(Napi::Env env, Napi::Object exports);
void RegisterShape(Napi::Env env, Napi::Object exports);
void RegisterNN(Napi::Env env, Napi::Object exports);
void RegisterAutograd(Napi::Env env, Napi::Object exports);
void RegisterRuntime(Napi::Env env, Napi::Object exports);
void RegisterJit(Napi::Env env, Napi::Object exports);

}  // namespace bastion
