// A caching CPU allocator for libtorch tensor storage.
//
// Why: under Node, short-lived tensor buffers are interleaved on glibc's heap with small
// N-API objects that live until the next V8 collection. Freed buffers then cannot be returned
// to the OS and resident memory creeps up step after step (measured: bytes in use flat at 58 MB,
// free-but-held growing to 500 MB over 3,000 training steps). This allocator keeps freed blocks
// in per-size-class free lists and hands them back on the next request of that class; a
// training loop asks for the same sizes every step, so memory is recycled without malloc and
// without fresh page faults. The cache is bounded (BASTION_CPU_CACHE_MB, default min(2 GiB,
// RAM/8)); BASTION_CPU_CACHE_MB=0 restores libtorch's default allocator.
#include "common.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <unistd.h>
#include <vector>

namespace bastion {
namespace {

constexpr size_t kAlignment = 64;  // as c10::alloc_cpu
constexpr size_t kHeader = 64;     // block size stored in front of the data, keeps 64-byte alignment

// Rounds a request to its size class: 64-byte steps up to 4 KiB, then 8 classes per power of
// two (at most 12.5% slack), so slightly different sizes (a smaller last batch) still reuse.
size_t SizeClass(size_t bytes) {
  if (bytes <= 4096) return (bytes + kAlignment - 1) / kAlignment * kAlignment;
  size_t power = 4096;
  while (power * 2 < bytes) power *= 2;
  const size_t step = power / 8;
  return (bytes + step - 1) / step * step;
}

class CachingCpuAllocator final : public c10::Allocator {
 public:
  explicit CachingCpuAllocator(size_t limit) : limit_(limit) {}

  c10::DataPtr allocate(size_t nbytes) const override {
    if (nbytes == 0) return {nullptr, nullptr, &Release, at::Device(at::kCPU)};
    void* data = Self().Take(SizeClass(nbytes));
    return {data, data, &Release, at::Device(at::kCPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &Release; }

  struct Stats {
    size_t inUse, cached, peakInUse, limit;
  };
  Stats GetStats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {inUse_, cached_, peak_, limit_};
  }
  void EmptyCache() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& entry : free_) {
      for (void* block : entry.second) std::free(static_cast<char*>(block) - kHeader);
      entry.second.clear();
    }
    cached_ = 0;
  }

  static CachingCpuAllocator& Self();

 private:
  static void Release(void* data) {
    if (data != nullptr) Self().Give(data);
  }

  void* Take(size_t size) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* block = it->second.back();
        it->second.pop_back();
        cached_ -= size;
        Account(size);
        return block;
      }
    }
    void* base = nullptr;
    if (posix_memalign(&base, kAlignment, size + kHeader) != 0 || base == nullptr) {
      EmptyCache();  // give the cache back and try once more before failing
      if (posix_memalign(&base, kAlignment, size + kHeader) != 0 || base == nullptr) {
        throw std::bad_alloc();
      }
    }
    *static_cast<size_t*>(base) = size;
    std::lock_guard<std::mutex> lock(mutex_);
    Account(size);
    return static_cast<char*>(base) + kHeader;
  }

  void Give(void* data) {
    char* base = static_cast<char*>(data) - kHeader;
    const size_t size = *reinterpret_cast<size_t*>(base);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      inUse_ -= size;
      if (cached_ + size <= limit_) {
        free_[size].push_back(data);
        cached_ += size;
        return;
      }
    }
    std::free(base);
  }

  void Account(size_t size) {  // with mutex_ held
    inUse_ += size;
    if (inUse_ > peak_) peak_ = inUse_;
  }

  const size_t limit_;
  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
  size_t inUse_ = 0, cached_ = 0, peak_ = 0;
};

size_t DefaultLimit() {
  if (const char* env = std::getenv("BASTION_CPU_CACHE_MB")) {
    return static_cast<size_t>(std::strtoull(env, nullptr, 10)) << 20;
  }
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long pageSize = sysconf(_SC_PAGE_SIZE);
  const size_t ram = pages > 0 && pageSize > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(pageSize) : (size_t{8} << 30);
  return std::min(size_t{2} << 30, ram / 8);
}

// Never destroyed: tensors may be freed during process teardown after static destructors ran.
CachingCpuAllocator* instance = nullptr;

CachingCpuAllocator& CachingCpuAllocator::Self() { return *instance; }

// cpuMemoryStats() -> { inUse, cached, peakInUse, limit, caching }
Napi::Value CpuMemoryStats(const Napi::CallbackInfo& info) {
  auto out = Napi::Object::New(info.Env());
  if (instance == nullptr) {
    out.Set("caching", false);
    return out;
  }
  auto s = instance->GetStats();
  out.Set("caching", true);
  out.Set("inUse", static_cast<double>(s.inUse));
  out.Set("cached", static_cast<double>(s.cached));
  out.Set("peakInUse", static_cast<double>(s.peakInUse));
  out.Set("limit", static_cast<double>(s.limit));
  return out;
}

// emptyCache(): returns every cached block to the system.
Napi::Value EmptyCacheOp(const Napi::CallbackInfo& info) {
  if (instance != nullptr) instance->EmptyCache();
  return info.Env().Undefined();
}

}  // namespace

void RegisterAllocator(Napi::Env env, Napi::Object exports) {
  const size_t limit = DefaultLimit();
  if (instance == nullptr && limit > 0) {
    instance = new CachingCpuAllocator(limit);
    c10::SetCPUAllocator(instance, /*priority=*/1);
  }
  BASTION_EXPORT(exports, "cpuMemoryStats", CpuMemoryStats);
  BASTION_EXPORT(exports, "emptyCache", EmptyCacheOp);
}

}  // namespace bastion
