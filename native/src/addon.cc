// Entry point of the Bastion native addon: registers every op group (see common.h).
#include "common.h"

namespace bastion {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  RegisterAllocator(env, exports);  // first: every tensor below uses it
  RegisterCreation(env, exports);
  RegisterMath(env, exports);
  RegisterShape(env, exports);
  RegisterNN(env, exports);
  RegisterAutograd(env, exports);
  RegisterRuntime(env, exports);
  RegisterJit(env, exports);
  return exports;
}

}  // namespace bastion

static Napi::Object InitBastion(Napi::Env env, Napi::Object exports) { return bastion::Init(env, exports); }

NODE_API_MODULE(bastion_native, InitBastion)
