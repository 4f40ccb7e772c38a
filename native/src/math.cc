// Element-wise arithmetic (out-of-place and in-place), comparisons, logic, reductions, indexing,
// softmax and matrix products. Second operands may be a tensor (broadcast) or a number.
#include "common.h"

namespace bastion {
namespace {

#define A0(name) const at::Tensor& a = ToTensor(info[0], name)
#define IS_TENSOR(v) IsTensorHandle(v)

// ---- binary arithmetic ---------------------------------------------------------------------
#define BINARY_ALPHA(Fn, op, name)                                                          \
  Napi::Value Fn(const Napi::CallbackInfo& info) {                                        \
    A0(name);                                                                             \
    at::Scalar alpha = IsNullish(info[2]) ? at::Scalar(1) : ToScalar(info[2], name " alpha"); \
    if (IS_TENSOR(info[1])) return Wrap(info.Env(), at::op(a, ToTensor(info[1], name), alpha)); \
    return Wrap(info.Env(), at::op(a, ToScalar(info[1], name), alpha));                   \
  }
BINARY_ALPHA(Add, add, "add")
BINARY_ALPHA(Sub, sub, "sub")

#define BINARY(Fn, op, name)                                                        \
  Napi::Value Fn(const Napi::CallbackInfo& info) {                                \
    A0(name);                                                                     \
    if (IS_TENSOR(info[1])) return Wrap(info.Env(), at::op(a, ToTensor(info[1], name))); \
    return Wrap(info.Env(), at::op(a, ToScalar(info[1], name)));                  \
  }
BINARY(Mul, mul, "mul")
BINARY(Div, div, "div")
BINARY(Remainder, remainder, "remainder")
BINARY(Fmod, fmod, "fmod")
BINARY(Eq, eq, "eq")
BINARY(Ne, ne, "ne")
BINARY(Lt, lt, "lt")
BINARY(Le, le, "le")
BINARY(Gt, gt, "gt")
BINARY(Ge, ge, "ge")

Napi::Value Pow(const Napi::CallbackInfo& info) {
  A0("pow");
  if (IS_TENSOR(info[1])) return Wrap(info.Env(), at::pow(a, ToTensor(info[1], "pow exponent")));
  return Wrap(info.Env(), at::pow(a, ToScalar(info[1], "pow exponent")));
}
Napi::Value Rsub(const Napi::CallbackInfo& info) {  // scalar - a
  A0("rsub");
  return Wrap(info.Env(), at::rsub(a, ToScalar(info[1], "rsub")));
}

#define TENSOR_BINARY(Fn, op, name) \
  Napi::Value Fn(const Napi::CallbackInfo& info) { A0(name); return Wrap(info.Env(), at::op(a, ToTensor(info[1], name))); }
TENSOR_BINARY(Maximum, maximum, "maximum")
TENSOR_BINARY(Minimum, minimum, "minimum")
TENSOR_BINARY(LogicalAnd, logical_and, "logicalAnd")
TENSOR_BINARY(LogicalOr, logical_or, "logicalOr")
TENSOR_BINARY(LogicalXor, logical_xor, "logicalXor")
TENSOR_BINARY(Matmul, matmul, "matmul")
TENSOR_BINARY(Mm, mm, "mm")
TENSOR_BINARY(Bmm, bmm, "bmm")
TENSOR_BINARY(BitwiseAnd, bitwise_and, "bitwiseAnd")
TENSOR_BINARY(BitwiseOr, bitwise_or, "bitwiseOr")
TENSOR_BINARY(BitwiseXor, bitwise_xor, "bitwiseXor")
TENSOR_BINARY(BitwiseLeftShift, bitwise_left_shift, "bitwiseLeftShift")
TENSOR_BINARY(BitwiseRightShift, bitwise_right_shift, "bitwiseRightShift")

// einsum(equation, tensors)
Napi::Value Einsum(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::einsum(ToString(info[0], "einsum equation"), ToTensorList(info[1], "einsum operands")));
}
Napi::Value Det(const Napi::CallbackInfo& info) { A0("det"); return Wrap(info.Env(), at::linalg_det(a)); }

// divRounding(a, b, mode: 'trunc' | 'floor'): division rounded toward zero or down.
Napi::Value DivRounding(const Napi::CallbackInfo& info) {
  A0("divRounding");
  std::string m = ToString(info[2], "divRounding mode");
  if (IS_TENSOR(info[1])) return Wrap(info.Env(), at::div(a, ToTensor(info[1], "divRounding"), m));
  return Wrap(info.Env(), at::div(a, ToScalar(info[1], "divRounding"), m));
}

// ---- unary ---------------------------------------------------------------------------------
#define UNARY(Fn, expr, name) \
  Napi::Value Fn(const Napi::CallbackInfo& info) { A0(name); return Wrap(info.Env(), expr); }
UNARY(Neg, at::neg(a), "neg")
UNARY(Abs, at::abs(a), "abs")
UNARY(Sign, at::sign(a), "sign")
UNARY(Sqrt, at::sqrt(a), "sqrt")
UNARY(Rsqrt, at::rsqrt(a), "rsqrt")
UNARY(Exp, at::exp(a), "exp")
UNARY(Log, at::log(a), "log")
UNARY(Log1p, at::log1p(a), "log1p")
UNARY(Square, at::square(a), "square")
UNARY(Reciprocal, at::reciprocal(a), "reciprocal")
UNARY(Floor, at::floor(a), "floor")
UNARY(Ceil, at::ceil(a), "ceil")
UNARY(Round, at::round(a), "round")
UNARY(Sin, at::sin(a), "sin")
UNARY(Cos, at::cos(a), "cos")
UNARY(Erf, at::erf(a), "erf")
UNARY(LogicalNot, at::logical_not(a), "logicalNot")
UNARY(IsNan, at::isnan(a), "isnan")
UNARY(IsFinite, at::isfinite(a), "isfinite")
UNARY(IsInf, at::isinf(a), "isinf")
UNARY(Tan, at::tan(a), "tan")
UNARY(Asin, at::asin(a), "asin")
UNARY(Acos, at::acos(a), "acos")
UNARY(Atan, at::atan(a), "atan")
UNARY(Sinh, at::sinh(a), "sinh")
UNARY(Cosh, at::cosh(a), "cosh")
UNARY(Asinh, at::asinh(a), "asinh")
UNARY(Acosh, at::acosh(a), "acosh")
UNARY(Atanh, at::atanh(a), "atanh")
UNARY(Trunc, at::trunc(a), "trunc")
UNARY(BitwiseNot, at::bitwise_not(a), "bitwiseNot")

// ---- in-place ------------------------------------------------------------------------------
#define RETURN_UNDEFINED return info.Env().Undefined()
Napi::Value Add_(const Napi::CallbackInfo& info) {
  at::Tensor a = ToTensor(info[0], "add_");
  at::Scalar alpha = IsNullish(info[2]) ? at::Scalar(1) : ToScalar(info[2], "add_ alpha");
  if (IS_TENSOR(info[1])) a.add_(ToTensor(info[1], "add_"), alpha);
  else a.add_(ToScalar(info[1], "add_"), alpha);
  RETURN_UNDEFINED;
}
Napi::Value Sub_(const Napi::CallbackInfo& info) {
  at::Tensor a = ToTensor(info[0], "sub_");
  at::Scalar alpha = IsNullish(info[2]) ? at::Scalar(1) : ToScalar(info[2], "sub_ alpha");
  if (IS_TENSOR(info[1])) a.sub_(ToTensor(info[1], "sub_"), alpha);
  else a.sub_(ToScalar(info[1], "sub_"), alpha);
  RETURN_UNDEFINED;
}
#define INPLACE_BINARY(Fn, method, name)                                   \
  Napi::Value Fn(const Napi::CallbackInfo& info) {                       \
    at::Tensor a = ToTensor(info[0], name);                              \
    if (IS_TENSOR(info[1])) a.method(ToTensor(info[1], name));           \
    else a.method(ToScalar(info[1], name));                              \
    RETURN_UNDEFINED;                                                    \
  }
INPLACE_BINARY(Mul_, mul_, "mul_")
INPLACE_BINARY(Div_, div_, "div_")
INPLACE_BINARY(Pow_, pow_, "pow_")
INPLACE_BINARY(Fill_, fill_, "fill_")

Napi::Value Addcmul_(const Napi::CallbackInfo& info) {
  at::Tensor a = ToTensor(info[0], "addcmul_");
  a.addcmul_(ToTensor(info[1], "addcmul_ tensor1"), ToTensor(info[2], "addcmul_ tensor2"),
             IsNullish(info[3]) ? at::Scalar(1) : ToScalar(info[3], "addcmul_ value"));
  RETURN_UNDEFINED;
}
Napi::Value Addcdiv_(const Napi::CallbackInfo& info) {
  at::Tensor a = ToTensor(info[0], "addcdiv_");
  a.addcdiv_(ToTensor(info[1], "addcdiv_ tensor1"), ToTensor(info[2], "addcdiv_ tensor2"),
             IsNullish(info[3]) ? at::Scalar(1) : ToScalar(info[3], "addcdiv_ value"));
  RETURN_UNDEFINED;
}
Napi::Value Lerp_(const Napi::CallbackInfo& info) {
  at::Tensor a = ToTensor(info[0], "lerp_");
  a.lerp_(ToTensor(info[1], "lerp_ end"), ToScalar(info[2], "lerp_ weight"));
  RETURN_UNDEFINED;
}
Napi::Value Copy_(const Napi::CallbackInfo& info) {
  at::Tensor a = ToTensor(info[0], "copy_");
  a.copy_(ToTensor(info[1], "copy_ source"));
  RETURN_UNDEFINED;
}
Napi::Value Zero_(const Napi::CallbackInfo& info) {
  at::Tensor a = ToTensor(info[0], "zero_");
  a.zero_();
  RETURN_UNDEFINED;
}
Napi::Value MaskedFill_(const Napi::CallbackInfo& info) {
  at::Tensor a = ToTensor(info[0], "maskedFill_");
  const auto& mask = ToTensor(info[1], "maskedFill_ mask");
  if (IS_TENSOR(info[2])) a.masked_fill_(mask, ToTensor(info[2], "maskedFill_ value"));
  else a.masked_fill_(mask, ToScalar(info[2], "maskedFill_ value"));
  RETURN_UNDEFINED;
}
#define INPLACE_UNARY(Fn, method, name) \
  Napi::Value Fn(const Napi::CallbackInfo& info) { at::Tensor a = ToTensor(info[0], name); a.method(); RETURN_UNDEFINED; }
INPLACE_UNARY(Sqrt_, sqrt_, "sqrt_")
INPLACE_UNARY(Sign_, sign_, "sign_")
INPLACE_UNARY(Neg_, neg_, "neg_")
INPLACE_UNARY(Abs_, abs_, "abs_")
INPLACE_UNARY(Relu_, relu_, "relu_")

// clamp(a, min, max) and clamp_: bounds are numbers, tensors (broadcast) or null for "none".
at::Tensor ClampImpl(const Napi::CallbackInfo& info, bool inplace) {
  at::Tensor a = ToTensor(info[0], inplace ? "clamp_" : "clamp");
  const bool tensorBounds = IS_TENSOR(info[1]) || IS_TENSOR(info[2]);
  if (tensorBounds) {
    auto lo = ToOptTensor(info[1], "clamp min");
    auto hi = ToOptTensor(info[2], "clamp max");
    if (inplace) return a.clamp_(lo, hi);
    return at::clamp(a, lo, hi);
  }
  auto lo = ToOptScalar(info[1], "clamp min");
  auto hi = ToOptScalar(info[2], "clamp max");
  if (inplace) return a.clamp_(lo, hi);
  return at::clamp(a, lo, hi);
}
Napi::Value Clamp(const Napi::CallbackInfo& info) { return Wrap(info.Env(), ClampImpl(info, false)); }
Napi::Value Clamp_(const Napi::CallbackInfo& info) { ClampImpl(info, true); RETURN_UNDEFINED; }

Napi::Value Where(const Napi::CallbackInfo& info) {
  const auto& cond = ToTensor(info[0], "where condition");
  const bool ta = IS_TENSOR(info[1]), tb = IS_TENSOR(info[2]);
  if (ta && tb) return Wrap(info.Env(), at::where(cond, ToTensor(info[1], "where a"), ToTensor(info[2], "where b")));
  if (ta) return Wrap(info.Env(), at::where(cond, ToTensor(info[1], "where a"), ToScalar(info[2], "where b")));
  if (tb) return Wrap(info.Env(), at::where(cond, ToScalar(info[1], "where a"), ToTensor(info[2], "where b")));
  return Wrap(info.Env(), at::where(cond, ToScalar(info[1], "where a"), ToScalar(info[2], "where b")));
}

// ---- reductions ----------------------------------------------------------------------------
// sum/mean(a, dims|null, keepdim, dtype|null): dims null reduces everything.
Napi::Value Sum(const Napi::CallbackInfo& info) {
  A0("sum");
  auto dims = ToOptIntList(info[1], "sum dims");
  auto dtype = ToOptDType(info[3], "sum dtype");
  if (!dims) return Wrap(info.Env(), at::sum(a, dtype));
  return Wrap(info.Env(), at::sum(a, *dims, ToBool(info[2], "sum keepdim"), dtype));
}
Napi::Value Mean(const Napi::CallbackInfo& info) {
  A0("mean");
  auto dims = ToOptIntList(info[1], "mean dims");
  auto dtype = ToOptDType(info[3], "mean dtype");
  if (!dims) return Wrap(info.Env(), at::mean(a, dtype));
  return Wrap(info.Env(), at::mean(a, *dims, ToBool(info[2], "mean keepdim"), dtype));
}
Napi::Value Amax(const Napi::CallbackInfo& info) {
  A0("amax");
  auto dims = ToOptIntList(info[1], "amax dims");
  return Wrap(info.Env(), at::amax(a, dims ? at::IntArrayRef(*dims) : at::IntArrayRef{}, ToBool(info[2], "amax keepdim")));
}
Napi::Value Amin(const Napi::CallbackInfo& info) {
  A0("amin");
  auto dims = ToOptIntList(info[1], "amin dims");
  return Wrap(info.Env(), at::amin(a, dims ? at::IntArrayRef(*dims) : at::IntArrayRef{}, ToBool(info[2], "amin keepdim")));
}
Napi::Value Argmax(const Napi::CallbackInfo& info) {
  A0("argmax");
  c10::optional<int64_t> dim;
  if (!IsNullish(info[1])) dim = ToInt(info[1], "argmax dim");
  return Wrap(info.Env(), at::argmax(a, dim, ToBool(info[2], "argmax keepdim")));
}
Napi::Value Argmin(const Napi::CallbackInfo& info) {
  A0("argmin");
  c10::optional<int64_t> dim;
  if (!IsNullish(info[1])) dim = ToInt(info[1], "argmin dim");
  return Wrap(info.Env(), at::argmin(a, dim, ToBool(info[2], "argmin keepdim")));
}
// maxDim/minDim(a, dim, keepdim) -> [values, indices]
Napi::Value MaxDim(const Napi::CallbackInfo& info) {
  A0("max");
  auto r = at::max(a, ToInt(info[1], "max dim"), ToBool(info[2], "max keepdim"));
  return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
}
Napi::Value MinDim(const Napi::CallbackInfo& info) {
  A0("min");
  auto r = at::min(a, ToInt(info[1], "min dim"), ToBool(info[2], "min keepdim"));
  return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
}
// prod(a, dim|null, keepdim, dtype|null): product along one dim, or of every element.
Napi::Value Prod(const Napi::CallbackInfo& info) {
  A0("prod");
  auto dtype = ToOptDType(info[3], "prod dtype");
  if (IsNullish(info[1])) return Wrap(info.Env(), at::prod(a, dtype));
  return Wrap(info.Env(), at::prod(a, ToInt(info[1], "prod dim"), ToBool(info[2], "prod keepdim"), dtype));
}
UNARY(MaxAll, at::max(a), "max")
UNARY(MinAll, at::min(a), "min")
UNARY(AnyAll, at::any(a), "any")
UNARY(AllAll, at::all(a), "all")
// norm(a, p, dims|null, keepdim): vector p-norm (p may be Infinity).
Napi::Value Norm(const Napi::CallbackInfo& info) {
  A0("norm");
  auto dims = ToOptIntList(info[2], "norm dims");
  return Wrap(info.Env(), at::linalg_vector_norm(a, ToScalar(info[1], "norm p"),
                                                 dims ? c10::optional<at::IntArrayRef>(*dims) : c10::nullopt,
                                                 ToBool(info[3], "norm keepdim"), c10::nullopt));
}
// std/var(a, dims|null, correction, keepdim)
Napi::Value Std(const Napi::CallbackInfo& info) {
  A0("std");
  auto dims = ToOptIntList(info[1], "std dims");
  return Wrap(info.Env(), at::std(a, dims ? at::OptionalIntArrayRef(*dims) : c10::nullopt,
                                  ToInt(info[2], "std correction"), ToBool(info[3], "std keepdim")));
}
Napi::Value Var(const Napi::CallbackInfo& info) {
  A0("var");
  auto dims = ToOptIntList(info[1], "var dims");
  return Wrap(info.Env(), at::var(a, dims ? at::OptionalIntArrayRef(*dims) : c10::nullopt,
                                  ToInt(info[2], "var correction"), ToBool(info[3], "var keepdim")));
}
Napi::Value Logsumexp(const Napi::CallbackInfo& info) {
  A0("logsumexp");
  return Wrap(info.Env(), at::logsumexp(a, ToIntList(info[1], "logsumexp dims"), ToBool(info[2], "logsumexp keepdim")));
}
Napi::Value Cumsum(const Napi::CallbackInfo& info) {
  A0("cumsum");
  return Wrap(info.Env(), at::cumsum(a, ToInt(info[1], "cumsum dim")));
}
// topk(a, k, dim, largest, sorted) -> [values, indices]
Napi::Value Topk(const Napi::CallbackInfo& info) {
  A0("topk");
  auto r = at::topk(a, ToInt(info[1], "topk k"), ToInt(info[2], "topk dim"), ToBool(info[3], "topk largest"),
                    ToBool(info[4], "topk sorted"));
  return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
}
// sort(a, dim, descending) -> [values, indices]
Napi::Value Sort(const Napi::CallbackInfo& info) {
  A0("sort");
  auto r = at::sort(a, ToInt(info[1], "sort dim"), ToBool(info[2], "sort descending"));
  return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
}
// sortStable(a, dim, descending) -> [values, indices]: equal elements keep their order.
Napi::Value SortStable(const Napi::CallbackInfo& info) {
  A0("sortStable");
  auto r = at::sort(a, c10::optional<bool>(true), ToInt(info[1], "sortStable dim"), ToBool(info[2], "sortStable descending"));
  return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
}
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  A0("softmax");
  return Wrap(info.Env(), at::softmax(a, ToInt(info[1], "softmax dim")));
}
Napi::Value LogSoftmax(const Napi::CallbackInfo& info) {
  A0("logSoftmax");
  return Wrap(info.Env(), at::log_softmax(a, ToInt(info[1], "logSoftmax dim")));
}

// ---- indexing ------------------------------------------------------------------------------
Napi::Value Gather(const Napi::CallbackInfo& info) {
  A0("gather");
  return Wrap(info.Env(), at::gather(a, ToInt(info[1], "gather dim"), ToTensor(info[2], "gather index")));
}
Napi::Value Scatter(const Napi::CallbackInfo& info) {
  A0("scatter");
  const int64_t dim = ToInt(info[1], "scatter dim");
  const auto& index = ToTensor(info[2], "scatter index");
  if (IS_TENSOR(info[3])) return Wrap(info.Env(), at::scatter(a, dim, index, ToTensor(info[3], "scatter src")));
  return Wrap(info.Env(), at::scatter(a, dim, index, ToScalar(info[3], "scatter value")));
}
Napi::Value ScatterAdd(const Napi::CallbackInfo& info) {
  A0("scatterAdd");
  return Wrap(info.Env(), at::scatter_add(a, ToInt(info[1], "scatterAdd dim"), ToTensor(info[2], "scatterAdd index"),
                                          ToTensor(info[3], "scatterAdd src")));
}
Napi::Value OneHot(const Napi::CallbackInfo& info) {
  A0("oneHot");
  return Wrap(info.Env(), at::one_hot(a, ToInt(info[1], "oneHot numClasses")));
}
Napi::Value IndexSelect(const Napi::CallbackInfo& info) {
  A0("indexSelect");
  return Wrap(info.Env(), at::index_select(a, ToInt(info[1], "indexSelect dim"), ToTensor(info[2], "indexSelect index")));
}
Napi::Value MaskedFill(const Napi::CallbackInfo& info) {
  A0("maskedFill");
  const auto& mask = ToTensor(info[1], "maskedFill mask");
  if (IS_TENSOR(info[2])) return Wrap(info.Env(), at::masked_fill(a, mask, ToTensor(info[2], "maskedFill value")));
  return Wrap(info.Env(), at::masked_fill(a, mask, ToScalar(info[2], "maskedFill value")));
}
Napi::Value MaskedSelect(const Napi::CallbackInfo& info) {
  A0("maskedSelect");
  return Wrap(info.Env(), at::masked_select(a, ToTensor(info[1], "maskedSelect mask")));
}
Napi::Value Nonzero(const Napi::CallbackInfo& info) {
  A0("nonzero");
  return Wrap(info.Env(), at::nonzero(a));
}
// indexPut_(a, index (int64 along dim 0), values): a[index] = values
Napi::Value IndexCopy_(const Napi::CallbackInfo& info) {
  at::Tensor a = ToTensor(info[0], "indexCopy_");
  a.index_copy_(ToInt(info[1], "indexCopy_ dim"), ToTensor(info[2], "indexCopy_ index"), ToTensor(info[3], "indexCopy_ source"));
  RETURN_UNDEFINED;
}
Napi::Value Equal(const Napi::CallbackInfo& info) {
  A0("equal");
  return Napi::Boolean::New(info.Env(), at::equal(a, ToTensor(info[1], "equal")));
}
Napi::Value Allclose(const Napi::CallbackInfo& info) {
  A0("allclose");
  return Napi::Boolean::New(info.Env(), at::allclose(a, ToTensor(info[1], "allclose"), ToDouble(info[2], "allclose rtol"),
                                                     ToDouble(info[3], "allclose atol")));
}

}  // namespace

void RegisterMath(Napi::Env env, Napi::Object exports) {
  BASTION_EXPORT(exports, "add", Add);
  BASTION_EXPORT(exports, "sub", Sub);
  BASTION_EXPORT(exports, "mul", Mul);
  BASTION_EXPORT(exports, "div", Div);
  BASTION_EXPORT(exports, "remainder", Remainder);
  BASTION_EXPORT(exports, "pow", Pow);
  BASTION_EXPORT(exports, "rsub", Rsub);
  BASTION_EXPORT(exports, "eq", Eq);
  BASTION_EXPORT(exports, "ne", Ne);
  BASTION_EXPORT(exports, "lt", Lt);
  BASTION_EXPORT(exports, "le", Le);
  BASTION_EXPORT(exports, "gt", Gt);
  BASTION_EXPORT(exports, "ge", Ge);
  BASTION_EXPORT(exports, "maximum", Maximum);
  BASTION_EXPORT(exports, "minimum", Minimum);
  BASTION_EXPORT(exports, "logicalAnd", LogicalAnd);
  BASTION_EXPORT(exports, "logicalOr", LogicalOr);
  BASTION_EXPORT(exports, "logicalXor", LogicalXor);
  BASTION_EXPORT(exports, "matmul", Matmul);
  BASTION_EXPORT(exports, "mm", Mm);
  BASTION_EXPORT(exports, "bmm", Bmm);
  BASTION_EXPORT(exports, "neg", Neg);
  BASTION_EXPORT(exports, "abs", Abs);
  BASTION_EXPORT(exports, "sign", Sign);
  BASTION_EXPORT(exports, "sqrt", Sqrt);
  BASTION_EXPORT(exports, "rsqrt", Rsqrt);
  BASTION_EXPORT(exports, "exp", Exp);
  BASTION_EXPORT(exports, "log", Log);
  BASTION_EXPORT(exports, "log1p", Log1p);
  BASTION_EXPORT(exports, "square", Square);
  BASTION_EXPORT(exports, "reciprocal", Reciprocal);
  BASTION_EXPORT(exports, "floor", Floor);
  BASTION_EXPORT(exports, "ceil", Ceil);
  BASTION_EXPORT(exports, "round", Round);
  BASTION_EXPORT(exports, "sin", Sin);
  BASTION_EXPORT(exports, "cos", Cos);
  BASTION_EXPORT(exports, "erf", Erf);
  BASTION_EXPORT(exports, "logicalNot", LogicalNot);
  BASTION_EXPORT(exports, "isnan", IsNan);
  BASTION_EXPORT(exports, "isfinite", IsFinite);
  BASTION_EXPORT(exports, "isinf", IsInf);
  BASTION_EXPORT(exports, "tan", Tan);
  BASTION_EXPORT(exports, "asin", Asin);
  BASTION_EXPORT(exports, "acos", Acos);
  BASTION_EXPORT(exports, "atan", Atan);
  BASTION_EXPORT(exports, "sinh", Sinh);
  BASTION_EXPORT(exports, "cosh", Cosh);
  BASTION_EXPORT(exports, "asinh", Asinh);
  BASTION_EXPORT(exports, "acosh", Acosh);
  BASTION_EXPORT(exports, "atanh", Atanh);
  BASTION_EXPORT(exports, "trunc", Trunc);
  BASTION_EXPORT(exports, "bitwiseNot", BitwiseNot);
  BASTION_EXPORT(exports, "fmod", Fmod);
  BASTION_EXPORT(exports, "bitwiseAnd", BitwiseAnd);
  BASTION_EXPORT(exports, "bitwiseOr", BitwiseOr);
  BASTION_EXPORT(exports, "bitwiseXor", BitwiseXor);
  BASTION_EXPORT(exports, "bitwiseLeftShift", BitwiseLeftShift);
  BASTION_EXPORT(exports, "bitwiseRightShift", BitwiseRightShift);
  BASTION_EXPORT(exports, "divRounding", DivRounding);
  BASTION_EXPORT(exports, "prod", Prod);
  BASTION_EXPORT(exports, "einsum", Einsum);
  BASTION_EXPORT(exports, "det", Det);
  BASTION_EXPORT(exports, "add_", Add_);
  BASTION_EXPORT(exports, "sub_", Sub_);
  BASTION_EXPORT(exports, "mul_", Mul_);
  BASTION_EXPORT(exports, "div_", Div_);
  BASTION_EXPORT(exports, "pow_", Pow_);
  BASTION_EXPORT(exports, "fill_", Fill_);
  BASTION_EXPORT(exports, "addcmul_", Addcmul_);
  BASTION_EXPORT(exports, "addcdiv_", Addcdiv_);
  BASTION_EXPORT(exports, "lerp_", Lerp_);
  BASTION_EXPORT(exports, "copy_", Copy_);
  BASTION_EXPORT(exports, "zero_", Zero_);
  BASTION_EXPORT(exports, "maskedFill_", MaskedFill_);
  BASTION_EXPORT(exports, "sqrt_", Sqrt_);
  BASTION_EXPORT(exports, "sign_", Sign_);
  BASTION_EXPORT(exports, "neg_", Neg_);
  BASTION_EXPORT(exports, "abs_", Abs_);
  BASTION_EXPORT(exports, "relu_", Relu_);
  BASTION_EXPORT(exports, "clamp", Clamp);
  BASTION_EXPORT(exports, "clamp_", Clamp_);
  BASTION_EXPORT(exports, "where", Where);
  BASTION_EXPORT(exports, "sum", Sum);
  BASTION_EXPORT(exports, "mean", Mean);
  BASTION_EXPORT(exports, "amax", Amax);
  BASTION_EXPORT(exports, "amin", Amin);
  BASTION_EXPORT(exports, "argmax", Argmax);
  BASTION_EXPORT(exports, "argmin", Argmin);
  BASTION_EXPORT(exports, "maxDim", MaxDim);
  BASTION_EXPORT(exports, "minDim", MinDim);
  BASTION_EXPORT(exports, "maxAll", MaxAll);
  BASTION_EXPORT(exports, "minAll", MinAll);
  BASTION_EXPORT(exports, "any", AnyAll);
  BASTION_EXPORT(exports, "all", AllAll);
  BASTION_EXPORT(exports, "norm", Norm);
  BASTION_EXPORT(exports, "std", Std);
  BASTION_EXPORT(exports, "var", Var);
  BASTION_EXPORT(exports, "logsumexp", Logsumexp);
  BASTION_EXPORT(exports, "cumsum", Cumsum);
  BASTION_EXPORT(exports, "topk", Topk);
  BASTION_EXPORT(exports, "sort", Sort);
  BASTION_EXPORT(exports, "sortStable", SortStable);
  BASTION_EXPORT(exports, "softmax", Softmax);
  BASTION_EXPORT(exports, "logSoftmax", LogSoftmax);
  BASTION_EXPORT(exports, "gather", Gather);
  BASTION_EXPORT(exports, "scatter", Scatter);
  BASTION_EXPORT(exports, "scatterAdd", ScatterAdd);
  BASTION_EXPORT(exports, "oneHot", OneHot);
  BASTION_EXPORT(exports, "indexSelect", IndexSelect);
  BASTION_EXPORT(exports, "maskedFill", MaskedFill);
  BASTION_EXPORT(exports, "maskedSelect", MaskedSelect);
  BASTION_EXPORT(exports, "nonzero", Nonzero);
  BASTION_EXPORT(exports, "indexCopy_", IndexCopy_);
  BASTION_EXPORT(exports, "equal", Equal);
  BASTION_EXPORT(exports, "allclose", Allclose);
}

}  // namespace bastion
