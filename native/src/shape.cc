// Shape and layout operations: views, joins, splits and reorderings.
#include "common.h"

namespace bastion {
namespace {

#define A0(name) const at::Tensor& a = ToTensor(info[0], name)

Napi::Value Cat(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::cat(ToTensorList(info[0], "cat"), ToInt(info[1], "cat dim")));
}
Napi::Value Stack(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::stack(ToTensorList(info[0], "stack"), ToInt(info[1], "stack dim")));
}
Napi::Value Reshape(const Napi::CallbackInfo& info) {
  A0("reshape");
  return Wrap(info.Env(), a.reshape(ToIntList(info[1], "reshape shape")));
}
Napi::Value View(const Napi::CallbackInfo& info) {
  A0("view");
  return Wrap(info.Env(), a.view(ToIntList(info[1], "view shape")));
}
Napi::Value Permute(const Napi::CallbackInfo& info) {
  A0("permute");
  return Wrap(info.Env(), a.permute(ToIntList(info[1], "permute dims")));
}
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  A0("transpose");
  return Wrap(info.Env(), a.transpose(ToInt(info[1], "transpose dim0"), ToInt(info[2], "transpose dim1")));
}
Napi::Value Flatten(const Napi::CallbackInfo& info) {
  A0("flatten");
  return Wrap(info.Env(), a.flatten(ToInt(info[1], "flatten start"), ToInt(info[2], "flatten end")));
}
Napi::Value Squeeze(const Napi::CallbackInfo& info) {
  A0("squeeze");
  if (IsNullish(info[1])) return Wrap(info.Env(), a.squeeze());
  return Wrap(info.Env(), a.squeeze(ToInt(info[1], "squeeze dim")));
}
Napi::Value Unsqueeze(const Napi::CallbackInfo& info) {
  A0("unsqueeze");
  return Wrap(info.Env(), a.unsqueeze(ToInt(info[1], "unsqueeze dim")));
}
Napi::Value Expand(const Napi::CallbackInfo& info) {
  A0("expand");
  return Wrap(info.Env(), a.expand(ToIntList(info[1], "expand shape")));
}
Napi::Value Repeat(const Napi::CallbackInfo& info) {
  A0("repeat");
  return Wrap(info.Env(), a.repeat(ToIntList(info[1], "repeat counts")));
}
Napi::Value Narrow(const Napi::CallbackInfo& info) {
  A0("narrow");
  return Wrap(info.Env(), a.narrow(ToInt(info[1], "narrow dim"), ToInt(info[2], "narrow start"), ToInt(info[3], "narrow length")));
}
// slice(a, dim, start, end, step): Python-style a[..., start:end:step] along dim.
Napi::Value Slice(const Napi::CallbackInfo& info) {
  A0("slice");
  c10::optional<int64_t> start, end;
  if (!IsNullish(info[2])) start = ToInt(info[2], "slice start");
  if (!IsNullish(info[3])) end = ToInt(info[3], "slice end");
  const int64_t step = IsNullish(info[4]) ? 1 : ToInt(info[4], "slice step");
  return Wrap(info.Env(), a.slice(ToInt(info[1], "slice dim"), start, end, step));
}
Napi::Value Select(const Napi::CallbackInfo& info) {
  A0("select");
  return Wrap(info.Env(), a.select(ToInt(info[1], "select dim"), ToInt(info[2], "select index")));
}
Napi::Value Chunk(const Napi::CallbackInfo& info) {
  A0("chunk");
  return WrapList(info.Env(), a.chunk(ToInt(info[1], "chunk chunks"), ToInt(info[2], "chunk dim")));
}
Napi::Value Split(const Napi::CallbackInfo& info) {
  A0("split");
  const int64_t dim = ToInt(info[2], "split dim");
  if (info[1].IsNumber()) return WrapList(info.Env(), a.split(ToInt(info[1], "split size"), dim));
  return WrapList(info.Env(), a.split_with_sizes(ToIntList(info[1], "split sizes"), dim));
}
Napi::Value Flip(const Napi::CallbackInfo& info) {
  A0("flip");
  return Wrap(info.Env(), a.flip(ToIntList(info[1], "flip dims")));
}
Napi::Value Roll(const Napi::CallbackInfo& info) {
  A0("roll");
  return Wrap(info.Env(), a.roll(ToIntList(info[1], "roll shifts"), ToIntList(info[2], "roll dims")));
}

}  // namespace

void RegisterShape(Napi::Env env, Napi::Object exports) {
  BASTION_EXPORT(exports, "cat", Cat);
  BASTION_EXPORT(exports, "stack", Stack);
  BASTION_EXPORT(exports, "reshape", Reshape);
  BASTION_EXPORT(exports, "view", View);
  BASTION_EXPORT(exports, "permute", Permute);
  BASTION_EXPORT(exports, "transpose", Transpose);
  BASTION_EXPORT(exports, "flatten", Flatten);
  BASTION_EXPORT(exports, "squeeze", Squeeze);
  BASTION_EXPORT(exports, "unsqueeze", Unsqueeze);
  BASTION_EXPORT(exports, "expand", Expand);
  BASTION_EXPORT(exports, "repeat", Repeat);
  BASTION_EXPORT(exports, "narrow", Narrow);
  BASTION_EXPORT(exports, "slice", Slice);
  BASTION_EXPORT(exports, "select", Select);
  BASTION_EXPORT(exports, "chunk", Chunk);
  BASTION_EXPORT(exports, "split", Split);
  BASTION_EXPORT(exports, "flip", Flip);
  BASTION_EXPORT(exports, "roll", Roll);
}

}  // namespace bastion
