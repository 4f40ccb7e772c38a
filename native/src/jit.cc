// TorchScript modules (files written by torch.jit.trace / torch.jit.script + .save): load, run
// forward with autograd, expose parameters and buffers (sharing storage), switch train/eval.
// Thin, one-to-one with torch::jit calls; file sniffing, argument checks and friendly errors
// live in src/models/torchscript.ts.
#include "common.h"

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/version.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

// Every difference between libtorch 1.13 and 2.x that this file depends on belongs here, and
// nowhere else. So far there is none: torch::jit::load, Module::named_parameters/buffers/
// get_methods/train, IValue's tuple/list/dict accessors and GraphOptimizerEnabledGuard have the
// same signatures in both (2.x spells c10::optional as std::optional, an alias there).
// Should one appear, test TORCH_VERSION_MAJOR / TORCH_VERSION_MINOR (torch/version.h) here.

namespace bastion {
namespace {

// Graph executor policy for every call into a loaded module.
//
// By default the profiling graph executor runs a few profiling passes, then compiles a graph
// specialised on what it saw (shapes, dtypes, and whether inputs require grad), guarded by type
// checks; a call that fails a guard runs a fallback that is itself profiled and specialised, up
// to the bailout depth. Bastion alternates no-grad predictions and with-grad attack steps, on
// batches of changing size (last batch, per-epsilon subsets), which is the worst case for it:
// each new combination fails a guard and profiles and compiles another fallback until the bailout
// depth is spent, autodiff subgraphs replace ATen's own backward formulas, and a CPU classifier
// gains nothing (no fuser runs on CPU by default; conv/linear/BN are single ATen
// kernels either way). With the optimizer off (GraphOptimizerEnabledGuard(false)), the executor
// builds one unspecialised plan per method once (its fallback_plan_) and reuses it for every call,
// grad or not; autograd records each ATen op exactly as in eager PyTorch, so gradients (and double
// backward, checked with createGraph) match torch.autograd on the eager model.
//
// Measured (simple CNN of 2 conv+BN+ReLU+pool blocks and a linear head, scripted and traced;
// 2 threads; 160 pairs of a no-grad forward and a forward + input gradient, batch sizes cycling
// 32, 32, 32, 7; three runs each): steady state is the same either way (3.9-4.2 ms per pair,
// the optimized executor stops re-specialising once its bailout depth is spent), but the first
// 20 pairs cost 130-141 ms with the optimizer off against 165-178 ms with it on, i.e. every
// model load pays ~40 ms of profiling and recompilation for nothing. The guard is thread-local
// in libtorch, so it leaves other users of the graph executor alone.
constexpr bool kOptimizeGraphs = false;

// napi type tag: a tagged External is known to hold a JitModule (not some other External).
constexpr napi_type_tag kJitModuleTag = {0x62617374696f6e4aULL, 0x49544d6f64756c65ULL};

struct JitModule {
  std::unique_ptr<torch::jit::Module> module;
};

torch::jit::Module& ModuleOf(const Napi::Value& value, const char* what) {
  if (!value.IsExternal() || !value.As<Napi::External<JitModule>>().CheckTypeTag(&kJitModuleTag)) {
    ThrowType(value.Env(), std::string(what) + ": expected a TorchScript module handle");
  }
  JitModule* holder = value.As<Napi::External<JitModule>>().Data();
  if (!holder->module) throw Napi::Error::New(value.Env(), std::string(what) + ": TorchScript module used after dispose");
  return *holder->module;
}

// jitLoad(path, device|null) -> module handle, in eval mode. Freed by jitDispose or, failing
// that, when the garbage collector finalises the handle.
Napi::Value JitLoad(const Napi::CallbackInfo& info) {
  const std::string path = ToString(info[0], "jitLoad path");
  const at::Device device = ToDevice(info[1], "jitLoad device");
  auto module = std::make_unique<torch::jit::Module>(torch::jit::load(path, device));
  module->eval();
  auto* holder = new JitModule{std::move(module)};
  auto external = Napi::External<JitModule>::New(info.Env(), holder, [](Napi::Env, JitModule* data) { delete data; });
  external.TypeTag(&kJitModuleTag);
  return external;
}

Napi::Value JitDispose(const Napi::CallbackInfo& info) {
  if (!info[0].IsExternal() || !info[0].As<Napi::External<JitModule>>().CheckTypeTag(&kJitModuleTag)) {
    ThrowType(info.Env(), "jitDispose: expected a TorchScript module handle");
  }
  info[0].As<Napi::External<JitModule>>().Data()->module.reset();
  return info.Env().Undefined();
}

std::string TypeName(const c10::IValue& value) { return value.tagKind(); }

// jitForward(module, input, outputIndex|null, outputKey|null) -> tensor. A tensor output is
// returned as is; a tuple or list gives its element `outputIndex` (default: the first tensor);
// a dict needs `outputKey`.
Napi::Value JitForward(const Napi::CallbackInfo& info) {
  torch::jit::Module& module = ModuleOf(info[0], "jitForward");
  const at::Tensor& input = ToTensor(info[1], "jitForward input");
  const bool hasIndex = !IsNullish(info[2]);
  const int64_t index = hasIndex ? ToInt(info[2], "jitForward outputIndex") : 0;
  const bool hasKey = !IsNullish(info[3]);
  const std::string key = hasKey ? ToString(info[3], "jitForward outputKey") : std::string();

  c10::IValue out;
  {
    torch::jit::GraphOptimizerEnabledGuard optimize(kOptimizeGraphs);
    out = module.forward({input});
  }
  if (out.isTensor()) return Wrap(info.Env(), out.toTensor());

  std::vector<c10::IValue> items;
  const char* kind = nullptr;
  if (out.isTuple()) {
    kind = "tuple";
    items = out.toTupleRef().elements().vec();
  } else if (out.isList()) {
    kind = "list";
    items = out.toListRef().vec();
  } else if (out.isGenericDict()) {
    auto dict = out.toGenericDict();
    std::string keys;
    c10::IValue chosen;
    bool found = false;
    for (const auto& entry : dict) {
      const std::string name = entry.key().isString() ? entry.key().toStringRef() : entry.key().tagKind();
      keys += (keys.empty() ? "" : ", ") + name;
      if (hasKey && entry.key().isString() && entry.key().toStringRef() == key) {
        chosen = entry.value();
        found = true;
      }
    }
    if (!hasKey) throw Napi::Error::New(info.Env(), "forward returned a dict with keys [" + keys + "]; choose one with outputKey");
    if (!found) throw Napi::Error::New(info.Env(), "forward returned a dict without key '" + key + "'; its keys are [" + keys + "]");
    if (!chosen.isTensor()) {
      throw Napi::Error::New(info.Env(), "forward's output '" + key + "' is a " + TypeName(chosen) + ", not a tensor");
    }
    return Wrap(info.Env(), chosen.toTensor());
  } else {
    throw Napi::Error::New(info.Env(), std::string("forward returned a ") + TypeName(out) + ", not a tensor, tuple, list or dict");
  }

  if (!hasIndex) {
    for (const auto& item : items) {
      if (item.isTensor()) return Wrap(info.Env(), item.toTensor());
    }
    throw Napi::Error::New(info.Env(), std::string("forward returned a ") + kind + " without any tensor");
  }
  if (index < 0 || index >= static_cast<int64_t>(items.size())) {
    throw Napi::Error::New(info.Env(), std::string("forward returned a ") + kind + " of " + std::to_string(items.size()) +
                                           " outputs; outputIndex " + std::to_string(index) + " is out of range");
  }
  const c10::IValue& item = items[static_cast<size_t>(index)];
  if (!item.isTensor()) {
    throw Napi::Error::New(info.Env(), "forward's output " + std::to_string(index) + " is a " + TypeName(item) + ", not a tensor");
  }
  return Wrap(info.Env(), item.toTensor());
}

template <typename List>
Napi::Value NamedTensors(Napi::Env env, const List& list) {
  auto out = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& named : list) {
    auto pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::String::New(env, named.name));
    pair.Set(1u, Wrap(env, named.value));
    out.Set(i++, pair);
  }
  return out;
}

// jitNamedParameters(module) -> [dotted name, tensor][]: the module's own tensors (same storage
// and autograd identity), so in-place optimizer updates change the module.
Napi::Value JitNamedParameters(const Napi::CallbackInfo& info) {
  return NamedTensors(info.Env(), ModuleOf(info[0], "jitNamedParameters").named_parameters(/*recurse=*/true));
}
Napi::Value JitNamedBuffers(const Napi::CallbackInfo& info) {
  return NamedTensors(info.Env(), ModuleOf(info[0], "jitNamedBuffers").named_buffers(/*recurse=*/true));
}

// jitTrain(module, flag): train(true) / eval() on the module and its submodules.
Napi::Value JitTrain(const Napi::CallbackInfo& info) {
  ModuleOf(info[0], "jitTrain").train(ToBool(info[1], "jitTrain flag"));
  return info.Env().Undefined();
}
Napi::Value JitIsTraining(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), ModuleOf(info[0], "jitIsTraining").is_training());
}

// jitMethods(module) -> names of the top-level module's methods (e.g. ["forward"]).
Napi::Value JitMethods(const Napi::CallbackInfo& info) {
  auto methods = ModuleOf(info[0], "jitMethods").get_methods();
  auto out = Napi::Array::New(info.Env(), methods.size());
  uint32_t i = 0;
  for (const auto& method : methods) out.Set(i++, Napi::String::New(info.Env(), method.name()));
  return out;
}

void CountKinds(const torch::jit::Block* block, std::map<std::string, int64_t>& counts) {
  for (const torch::jit::Node* node : block->nodes()) {
    ++counts[node->kind().toQualString()];
    for (const torch::jit::Block* inner : node->blocks()) CountKinds(inner, counts);
  }
}

// jitOpCounts(module) -> { 'aten::conv2d': 2, 'aten::relu': 2, ... }: node kinds of the module's
// method graphs with every call (submodule methods, TorchScript functions) inlined, as saved (not
// optimised).
Napi::Value JitOpCounts(const Napi::CallbackInfo& info) {
  torch::jit::Module& module = ModuleOf(info[0], "jitOpCounts");
  std::map<std::string, int64_t> counts;
  for (const auto& method : module.get_methods()) {
    auto graph = method.graph()->copy();
    torch::jit::Inline(*graph);
    CountKinds(graph->block(), counts);
  }
  auto out = Napi::Object::New(info.Env());
  for (const auto& [kind, count] : counts) out.Set(kind, Napi::Number::New(info.Env(), static_cast<double>(count)));
  return out;
}

}  // namespace

void RegisterJit(Napi::Env env, Napi::Object exports) {
  BASTION_EXPORT(exports, "jitLoad", JitLoad);
  BASTION_EXPORT(exports, "jitDispose", JitDispose);
  BASTION_EXPORT(exports, "jitForward", JitForward);
  BASTION_EXPORT(exports, "jitNamedParameters", JitNamedParameters);
  BASTION_EXPORT(exports, "jitNamedBuffers", JitNamedBuffers);
  BASTION_EXPORT(exports, "jitTrain", JitTrain);
  BASTION_EXPORT(exports, "jitIsTraining", JitIsTraining);
  BASTION_EXPORT(exports, "jitMethods", JitMethods);
  BASTION_EXPORT(exports, "jitOpCounts", JitOpCounts);
}

}  // namespace bastion
