// CUDA kernels for ms with batch scope (ms_kernels.h says what they promise). The plan, for d elements:
//
//   encode  histogram of the top key digit + flags (ms_scan; the host reads the flags back: they decide the sign
//           mode or refuse the input), then a radix select on 11 + 10 + 10 key bits: per digit, a histogram pass
//           over the keys that share the digits found so far and a one-block kernel that picks the digit holding
//           the k-th largest key. Then per tile of 4096 elements: counts of keys above and equal to the threshold,
//           one scan of those counts over the tiles, and the fused pass: each thread quantizes 16 elements, packs
//           their codes into 2b bytes and writes its kept values at the place the two scans give it.
//   decode  the kept values' checks and smallest magnitude (t), the reserved codes counted per tile (the host
//           reads the checks and the total back, so a lying body is refused before it is decoded), one scan, and
//           one pass that writes every element.
//
// Six passes over the input to encode, three over the codes to decode: each pass reads at device bandwidth, and
// none sorts.
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "internal/bits.h"
#include "ms_kernels.h"

namespace mesl::codec::detail::gpu {
namespace {

constexpr int kThreads = 256;                 // threads per block
constexpr int kPerThread = 16;                // elements per thread in the tiled kernels: two groups of 8 codes,
                                              // which are whole bytes at every width
constexpr int kTile = kThreads * kPerThread;  // elements per block in the tiled kernels
constexpr int kScanThreads = 256;
constexpr int kMaxBins = 2048;

constexpr uint32_t kMagnitude = 0x7FFFFFFFu;     // the key: float bits without the sign (fast_sparse.cpp's)
constexpr uint32_t kNonFiniteKey = 0x7F800000u;  // keys >= this are Inf or NaN
constexpr unsigned long long kNone = ~0ull;

// The radix select's digits of the 31-bit key, most significant first.
constexpr int kPasses = 3;
constexpr int kDigitBits[kPasses] = {11, 10, 10};
constexpr int kDigitShift[kPasses] = {20, 10, 0};

// Flags, set with atomicOr.
constexpr uint32_t kNegative = 1, kNonFinite = 2, kInvalidCode = 4;

// What the kernels of one encode or decode share, in device memory.
struct State {
  uint32_t prefix;     // encode: key bits decided so far; the threshold key after the last pass
  uint32_t flags;      // encode: kNegative | kNonFinite; decode: kInvalidCode
  long long remaining;  // encode: keys still to keep among those with this prefix; after the last pass, the ties
  uint32_t use_t;       // encode: t is the threshold's value (0 < k < d), else t = 0
  uint32_t min_key;     // decode: smallest kept magnitude key (~0u: none)
  unsigned long long first_nonfinite, first_negative;  // decode: lowest offending kept value (kNone: none)
  unsigned long long total;  // the scan's total of the tiles' first counts
};

// Scratch carved out of one allocation: the state, the digit histogram, two counts per tile and their scan.
struct Scratch {
  State* state;
  uint32_t* hist;
  uint32_t* count_a;
  uint32_t* count_b;
  unsigned long long* before;  // per tile: (count_a before it) << 32 | (count_b before it)
};

int64_t tiles_of(int64_t d) { return (d + kTile - 1) / kTile; }
size_t aligned(size_t n) { return (n + 255) / 256 * 256; }

// Offsets of the parts within the allocation (256-byte aligned); `bytes` is the whole size.
struct ScratchLayout {
  size_t hist, count_a, count_b, before, bytes;
};

ScratchLayout scratch_layout(int64_t d) {
  const auto t = static_cast<size_t>(tiles_of(d));
  ScratchLayout l;
  l.hist = aligned(sizeof(State));
  l.count_a = l.hist + aligned(kMaxBins * sizeof(uint32_t));
  l.count_b = l.count_a + aligned(t * sizeof(uint32_t));
  l.before = l.count_b + aligned(t * sizeof(uint32_t));
  l.bytes = l.before + aligned(t * sizeof(unsigned long long));
  return l;
}

Scratch carve(void* p, int64_t d) {
  const ScratchLayout l = scratch_layout(d);
  auto* base = static_cast<unsigned char*>(p);
  return Scratch{reinterpret_cast<State*>(base), reinterpret_cast<uint32_t*>(base + l.hist),
                 reinterpret_cast<uint32_t*>(base + l.count_a), reinterpret_cast<uint32_t*>(base + l.count_b),
                 reinterpret_cast<unsigned long long*>(base + l.before)};
}

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}

// Makes `device` current for the calls in a scope (LibTorch may have left another one current).
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    check(cudaGetDevice(&previous_), "cudaGetDevice");
    if (previous_ != device) check(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceScope() { cudaSetDevice(previous_); }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
};

// Blocks for a grid-stride pass over n items: enough to fill the device, no more.
unsigned grid_for(int64_t n, int device) {
  int sms = 0;
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
  const int64_t wanted = (n + kThreads * 8 - 1) / (kThreads * 8);
  const int64_t cap = static_cast<int64_t>(sms) * 8;
  return static_cast<unsigned>(wanted < 1 ? 1 : (wanted < cap ? wanted : cap));
}

// ---- device helpers ----------------------------------------------------------------------------------------------

// Calls f(x[i]) for this thread's share of x[0, d) in a grid-stride loop, four floats per load where x is aligned.
template <typename F>
__device__ void for_each_value(const float* __restrict__ x, long long d, F&& f) {
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  const long long first = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  long long done = 0;
  if ((reinterpret_cast<uintptr_t>(x) & 15) == 0) {
    const long long quads = d / 4;
    const auto* x4 = reinterpret_cast<const float4*>(x);
    for (long long i = first; i < quads; i += stride) {
      const float4 v = __ldg(x4 + i);
      f(v.x);
      f(v.y);
      f(v.z);
      f(v.w);
    }
    done = quads * 4;
  }
  for (long long i = done + first; i < d; i += stride) f(__ldg(x + i));
}

// Loads this thread's 16 elements of the tile grid (zeros past d) and returns how many are real.
__device__ int load_elements(const float* __restrict__ x, long long d, long long at, float (&v)[kPerThread]) {
  const long long left = d - at;
  if (left >= kPerThread && (reinterpret_cast<uintptr_t>(x + at) & 15) == 0) {
    const auto* x4 = reinterpret_cast<const float4*>(x + at);
    for (int q = 0; q < kPerThread / 4; ++q) {
      const float4 f = __ldg(x4 + q);
      v[4 * q] = f.x;
      v[4 * q + 1] = f.y;
      v[4 * q + 2] = f.z;
      v[4 * q + 3] = f.w;
    }
    return kPerThread;
  }
  for (int j = 0; j < kPerThread; ++j) v[j] = j < left ? __ldg(x + at + j) : 0.0f;
  return left <= 0 ? 0 : (left < kPerThread ? static_cast<int>(left) : kPerThread);
}

// Loads this thread's 16 codes of B bits (2B bytes of the stream, zeros past its end) as two words: code j at
// stream bit jB. Returns how many codes are real.
template <int B>
__device__ int load_codes(const uint8_t* __restrict__ codes, long long d, long long codes_bytes, long long at,
                          unsigned long long& lo, unsigned long long& hi) {
  const long long byte = at / 8 * B;
  lo = hi = 0;
  for (int i = 0; i < 2 * B; ++i) {
    const unsigned long long b = byte + i < codes_bytes ? codes[byte + i] : 0;
    if (i < 8)
      lo |= b << (8 * i);
    else
      hi |= b << (8 * (i - 8));
  }
  const long long left = d - at;
  return left <= 0 ? 0 : (left < kPerThread ? static_cast<int>(left) : kPerThread);
}

template <int B>
__device__ uint32_t code_at(unsigned long long lo, unsigned long long hi, int j) {
  const int p = j * B;
  unsigned long long v;
  if (p >= 64) {
    v = hi >> (p - 64);
  } else {
    v = lo >> p;
    if (p + B > 64) v |= hi << (64 - p);
  }
  return static_cast<uint32_t>(v & ((1u << B) - 1));
}

template <int B>
__device__ void put_code(unsigned long long& lo, unsigned long long& hi, int j, uint32_t code) {
  const int p = j * B;
  const unsigned long long c = code;
  if (p >= 64) {
    hi |= c << (p - 64);
  } else {
    lo |= c << p;
    if (p + B > 64) hi |= c >> (64 - p);
  }
}

// Kept values start after the code stream, at any byte offset.
__device__ void store_f32(uint8_t* p, float v) {
  const uint32_t u = __float_as_uint(v);
  if ((reinterpret_cast<uintptr_t>(p) & 3) == 0) {
    *reinterpret_cast<uint32_t*>(p) = u;
    return;
  }
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(u >> (8 * i));
}

__device__ uint32_t load_u32(const uint8_t* p) {
  if ((reinterpret_cast<uintptr_t>(p) & 3) == 0) return *reinterpret_cast<const uint32_t*>(p);
  uint32_t u = 0;
  for (int i = 0; i < 4; ++i) u |= static_cast<uint32_t>(p[i]) << (8 * i);
  return u;
}

// fast_sparse.cpp's magnitude_code: round or floor of (|x| * L) / t, clamped to L - 1; 0 when t == 0. The
// intrinsics round each operation to nearest, as the CPU does (no contraction into an FMA, IEEE division).
__device__ uint32_t magnitude_code(uint32_t key, float t, uint32_t levels, bool floor_rounding) {
  if (!(t > 0.0f)) return 0;
  const auto levels_f = static_cast<float>(levels);
  const float q = __fdiv_rn(__fmul_rn(__uint_as_float(key), levels_f), t);
  const float r = floor_rounding ? floorf(q) : rintf(q);
  return r >= levels_f - 1.0f ? levels - 1 : static_cast<uint32_t>(r);
}

__device__ uint32_t warp_or(uint32_t v) {
  for (int o = 16; o > 0; o >>= 1) v |= __shfl_xor_sync(0xFFFFFFFFu, v, o);
  return v;
}

// ---- encode ------------------------------------------------------------------------------------------------------

// Histogram of one digit over the keys whose higher digits equal the prefix found so far; the first pass also
// sets the input's flags.
__global__ void histogram_kernel(const float* __restrict__ x, long long d, int shift, int bits, bool first,
                                 State* st, uint32_t* hist) {
  __shared__ uint32_t local[kMaxBins];
  const int bins = 1 << bits;
  for (int i = threadIdx.x; i < bins; i += blockDim.x) local[i] = 0;
  __syncthreads();
  const uint32_t high = kMagnitude & ~((1u << (shift + bits)) - 1);  // the digits already decided
  const uint32_t prefix = first ? 0u : st->prefix;
  uint32_t flags = 0, zeros = 0;  // bin 0 counted in a register: a ReLU output's zeros would all hit one counter
  for_each_value(x, d, [&](float v) {
    const uint32_t u = __float_as_uint(v), key = u & kMagnitude;
    if (first) {
      if ((u >> 31) && key != 0) flags |= kNegative;
      if (key >= kNonFiniteKey) flags |= kNonFinite;
    }
    if ((key & high) != prefix) return;
    const uint32_t bin = (key >> shift) & static_cast<uint32_t>(bins - 1);
    if (bin == 0)
      ++zeros;
    else
      atomicAdd(&local[bin], 1u);
  });
  if (first) {
    flags = warp_or(flags);
    if ((threadIdx.x & 31) == 0 && flags != 0) atomicOr(&st->flags, flags);
  }
  if (zeros != 0) atomicAdd(&local[0], zeros);
  __syncthreads();
  for (int i = threadIdx.x; i < bins; i += blockDim.x)
    if (local[i] != 0) atomicAdd(&hist[i], local[i]);
}

// One block: finds the digit whose bin holds the remaining-th largest key (counting from the top bin), appends it
// to the prefix, and clears the histogram for the next pass.
__global__ void select_digit_kernel(uint32_t* hist, int shift, int bits, State* st) {
  using Scan = cub::BlockScan<unsigned long long, kThreads>;
  __shared__ typename Scan::TempStorage temp;
  const int bins = 1 << bits, per = bins / kThreads;  // 8 or 4 bins per thread, highest bins to thread 0
  const int top = bins - 1 - static_cast<int>(threadIdx.x) * per;
  uint32_t count[kMaxBins / kThreads];
  unsigned long long sum = 0;
  for (int j = 0; j < per; ++j) {
    count[j] = hist[top - j];
    sum += count[j];
  }
  unsigned long long above = 0;
  Scan(temp).ExclusiveSum(sum, above);
  const long long remaining = st->remaining;
  __syncthreads();  // every thread has read the state before the one that finds the digit writes it
  for (int j = 0; j < per; ++j) {
    const auto a = static_cast<long long>(above);
    if (a < remaining && remaining <= a + static_cast<long long>(count[j])) {
      st->prefix |= static_cast<uint32_t>(top - j) << shift;
      st->remaining = remaining - a;
    }
    above += count[j];
    hist[top - j] = 0;
  }
}

// Keys above and equal to the threshold, per thread (packed: above << 32 | equal; a tile has at most 4096).
__device__ unsigned long long count_keys(const float (&v)[kPerThread], int n, uint32_t threshold) {
  unsigned long long packed = 0;
  for (int j = 0; j < n; ++j) {
    const uint32_t key = __float_as_uint(v[j]) & kMagnitude;
    packed += key > threshold ? (1ull << 32) : (key == threshold ? 1ull : 0ull);
  }
  return packed;
}

__global__ void count_tiles_kernel(const float* __restrict__ x, long long d, const State* st, uint32_t* above,
                                   uint32_t* equal) {
  using Reduce = cub::BlockReduce<unsigned long long, kThreads>;
  __shared__ typename Reduce::TempStorage temp;
  float v[kPerThread];
  const int n = load_elements(x, d, static_cast<long long>(blockIdx.x) * kTile + threadIdx.x * kPerThread, v);
  const unsigned long long total = Reduce(temp).Sum(count_keys(v, n, st->prefix));
  if (threadIdx.x == 0) {
    above[blockIdx.x] = static_cast<uint32_t>(total >> 32);
    equal[blockIdx.x] = static_cast<uint32_t>(total & 0xFFFFFFFFu);
  }
}

// One block: before[i] = (sum of a[0, i)) << 32 | (sum of b[0, i)), and the total of a. The sums stay below 2^31
// (d < 2^31), so the packed halves never carry into each other.
__global__ void __launch_bounds__(kScanThreads) scan_tiles_kernel(const uint32_t* a, const uint32_t* b, long long tiles, unsigned long long* before,
                                  State* st) {
  using Scan = cub::BlockScan<unsigned long long, kScanThreads>;
  __shared__ typename Scan::TempStorage temp;
  __shared__ unsigned long long carry;
  if (threadIdx.x == 0) carry = 0;
  __syncthreads();
  for (long long start = 0; start < tiles; start += kScanThreads) {
    const long long i = start + threadIdx.x;
    const unsigned long long v = i < tiles ? (static_cast<unsigned long long>(a[i]) << 32) | (b ? b[i] : 0u) : 0;
    unsigned long long prefix = 0, total = 0;
    Scan(temp).ExclusiveSum(v, prefix, total);
    if (i < tiles) before[i] = carry + prefix;
    __syncthreads();  // every thread has used carry and the scan's storage
    if (threadIdx.x == 0) carry += total;
    __syncthreads();
  }
  if (threadIdx.x == 0) st->total = carry >> 32;
}

// The fused pass: decides, quantizes, packs and gathers 16 elements per thread.
template <int B>
__global__ void encode_kernel(const float* __restrict__ x, long long d, const State* st,
                              const unsigned long long* before, bool is_signed, bool floor_rounding,
                              uint8_t* __restrict__ codes, long long codes_bytes, uint8_t* __restrict__ values) {
  using Scan = cub::BlockScan<unsigned long long, kThreads>;
  __shared__ typename Scan::TempStorage temp;
  const uint32_t threshold = st->prefix;
  const long long ties = st->remaining;
  const float t = st->use_t ? __uint_as_float(threshold) : 0.0f;
  const long long at = static_cast<long long>(blockIdx.x) * kTile + threadIdx.x * kPerThread;
  float v[kPerThread];
  const int n = load_elements(x, d, at, v);
  unsigned long long mine = 0;
  Scan(temp).ExclusiveSum(count_keys(v, n, threshold), mine);

  // Where this thread's kept values go: keys above the threshold before it, plus the ties before it that are
  // within the first `ties` (ties are kept lowest index first).
  const unsigned long long tile = before[blockIdx.x];
  const auto tile_above = static_cast<long long>(tile >> 32), tile_equal = static_cast<long long>(tile & 0xFFFFFFFFu);
  const auto my_above = static_cast<long long>(mine >> 32), my_equal = static_cast<long long>(mine & 0xFFFFFFFFu);
  long long ties_left = ties > tile_equal ? ties - tile_equal : 0;
  long long kept = tile_above + (tile_equal < ties ? tile_equal : ties) + my_above +
                   (my_equal < ties_left ? my_equal : ties_left);
  ties_left = ties_left > my_equal ? ties_left - my_equal : 0;

  const uint32_t levels = is_signed ? (1u << (B - 1)) - 1 : (1u << B) - 1;
  const uint32_t reserved = (1u << B) - 1, sign_bit = is_signed ? 1u << (B - 1) : 0u;
  unsigned long long lo = 0, hi = 0;
  for (int j = 0; j < n; ++j) {
    const uint32_t u = __float_as_uint(v[j]), key = u & kMagnitude;
    bool keep = key > threshold;
    if (!keep && key == threshold && ties_left > 0) {
      keep = true;
      --ties_left;
    }
    uint32_t code = reserved;
    if (keep) {
      store_f32(values + 4 * kept++, v[j]);
    } else {
      code = magnitude_code(key, t, levels, floor_rounding);
      if ((u >> 31) && key != 0) code |= sign_bit;
    }
    put_code<B>(lo, hi, j, code);
  }
  const long long byte = at / 8 * B;
  for (int i = 0; i < 2 * B; ++i)
    if (byte + i < codes_bytes) codes[byte + i] = static_cast<uint8_t>(i < 8 ? lo >> (8 * i) : hi >> (8 * (i - 8)));
}

// ---- decode ------------------------------------------------------------------------------------------------------

// The kept values: the smallest magnitude (t) and the first NaN/Inf and the first negative value (unsigned masks).
__global__ void kept_values_kernel(const uint8_t* values, long long kept, bool is_signed, State* st) {
  uint32_t min_key = ~0u;
  unsigned long long nonfinite = kNone, negative = kNone;
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < kept; i += stride) {
    const uint32_t u = load_u32(values + 4 * i), key = u & kMagnitude;
    if (key >= kNonFiniteKey) {
      if (nonfinite == kNone) nonfinite = static_cast<unsigned long long>(i);
      continue;
    }
    if (!is_signed && (u >> 31) && key != 0 && negative == kNone) negative = static_cast<unsigned long long>(i);
    if (key < min_key) min_key = key;
  }
  if (min_key != ~0u) atomicMin(&st->min_key, min_key);
  if (nonfinite != kNone) atomicMin(&st->first_nonfinite, nonfinite);
  if (negative != kNone) atomicMin(&st->first_negative, negative);
}

// Reserved codes per tile, and whether a signed mask holds its invalid code (magnitude L without the sign bit).
template <int B>
__global__ void count_reserved_kernel(const uint8_t* __restrict__ codes, long long d, long long codes_bytes,
                                      bool is_signed, uint32_t* reserved_count, State* st) {
  using Reduce = cub::BlockReduce<unsigned long long, kThreads>;
  __shared__ typename Reduce::TempStorage temp;
  const long long at = static_cast<long long>(blockIdx.x) * kTile + threadIdx.x * kPerThread;
  unsigned long long lo, hi;
  const int n = load_codes<B>(codes, d, codes_bytes, at, lo, hi);
  const uint32_t reserved = (1u << B) - 1, invalid = is_signed ? (1u << (B - 1)) - 1 : ~0u;
  unsigned long long count = 0;
  bool bad = false;
  for (int j = 0; j < n; ++j) {
    const uint32_t c = code_at<B>(lo, hi, j);
    count += c == reserved;
    bad |= c == invalid;
  }
  if (bad) atomicOr(&st->flags, kInvalidCode);
  const unsigned long long total = Reduce(temp).Sum(count);
  if (threadIdx.x == 0) reserved_count[blockIdx.x] = static_cast<uint32_t>(total);
}

template <int B>
__global__ void decode_kernel(const uint8_t* __restrict__ codes, long long d, long long codes_bytes, bool is_signed,
                              const State* st, const unsigned long long* before, const uint8_t* __restrict__ values,
                              float* __restrict__ out) {
  using Scan = cub::BlockScan<unsigned long long, kThreads>;
  __shared__ typename Scan::TempStorage temp;
  const long long at = static_cast<long long>(blockIdx.x) * kTile + threadIdx.x * kPerThread;
  unsigned long long lo, hi;
  const int n = load_codes<B>(codes, d, codes_bytes, at, lo, hi);
  const uint32_t reserved = (1u << B) - 1, sign_bit = is_signed ? 1u << (B - 1) : 0u;
  const uint32_t magnitude_mask = (1u << (is_signed ? B - 1 : B)) - 1;
  const auto levels_f = static_cast<float>(is_signed ? (1u << (B - 1)) - 1 : (1u << B) - 1);
  const float t = st->min_key == ~0u ? 0.0f : __uint_as_float(st->min_key);
  unsigned long long mine = 0;
  for (int j = 0; j < n; ++j) mine += code_at<B>(lo, hi, j) == reserved;
  Scan(temp).ExclusiveSum(mine, mine);
  long long kept = static_cast<long long>(before[blockIdx.x] >> 32) + static_cast<long long>(mine);
  float v[kPerThread];
  for (int j = 0; j < n; ++j) {
    const uint32_t c = code_at<B>(lo, hi, j);
    if (c == reserved) {
      v[j] = __uint_as_float(load_u32(values + 4 * kept++));
      continue;
    }
    const float m = __fdiv_rn(__fmul_rn(static_cast<float>(c & magnitude_mask), t), levels_f);
    v[j] = (c & sign_bit) ? -m : m;
  }
  if (n == kPerThread && (reinterpret_cast<uintptr_t>(out + at) & 15) == 0) {
    auto* o4 = reinterpret_cast<float4*>(out + at);
    for (int q = 0; q < kPerThread / 4; ++q) o4[q] = make_float4(v[4 * q], v[4 * q + 1], v[4 * q + 2], v[4 * q + 3]);
  } else {
    for (int j = 0; j < n; ++j) out[at + j] = v[j];
  }
}

void check_launch(const char* what) { check(cudaGetLastError(), what); }

void histogram(const MsEncodeArgs& a, const Scratch& s, int pass) {
  histogram_kernel<<<grid_for(a.d, a.device), kThreads>>>(a.x, a.d, kDigitShift[pass], kDigitBits[pass], pass == 0,
                                                           s.state, s.hist);
  check_launch("histogram_kernel");
}

}  // namespace

size_t ms_scratch_bytes(int64_t d) { return scratch_layout(d).bytes; }

ScanFlags ms_scan(const MsEncodeArgs& a) {
  DeviceScope scope(a.device);
  const Scratch s = carve(a.scratch, a.d);
  State init{};
  init.prefix = 0;
  init.remaining = a.k;
  init.use_t = a.k > 0 && a.k < a.d;
  init.min_key = ~0u;
  init.first_nonfinite = init.first_negative = kNone;
  if (a.k == 0) init.prefix = ~0u;  // no key is above or equal to it: nothing kept
  // (k == d: prefix 0 and d ties keep everything)
  check(cudaMemcpyAsync(s.state, &init, sizeof init, cudaMemcpyHostToDevice, 0), "cudaMemcpyAsync");
  check(cudaMemsetAsync(s.hist, 0, kMaxBins * sizeof(uint32_t), 0), "cudaMemsetAsync");
  histogram(a, s, 0);
  uint32_t flags = 0;
  check(cudaMemcpy(&flags, &s.state->flags, sizeof flags, cudaMemcpyDeviceToHost), "cudaMemcpy (flags)");
  return ScanFlags{(flags & kNegative) != 0, (flags & kNonFinite) != 0};
}

void ms_encode(const MsEncodeArgs& a) {
  DeviceScope scope(a.device);
  const Scratch s = carve(a.scratch, a.d);
  if (a.k > 0 && a.k < a.d) {
    for (int pass = 0; pass < kPasses; ++pass) {
      if (pass > 0) histogram(a, s, pass);
      select_digit_kernel<<<1, kThreads>>>(s.hist, kDigitShift[pass], kDigitBits[pass], s.state);
      check_launch("select_digit_kernel");
    }
  }
  const auto tiles = static_cast<unsigned>(tiles_of(a.d));
  count_tiles_kernel<<<tiles, kThreads>>>(a.x, a.d, s.state, s.count_a, s.count_b);
  check_launch("count_tiles_kernel");
  scan_tiles_kernel<<<1, kScanThreads>>>(s.count_a, s.count_b, tiles, s.before, s.state);
  check_launch("scan_tiles_kernel");
  dispatch_bits(a.bits, [&](auto bits) {
    constexpr int B = decltype(bits)::value;  // ms masks are 1..8 bits (options.cpp refuses others)
    if constexpr (B <= 8) {
      encode_kernel<B><<<tiles, kThreads>>>(a.x, a.d, s.state, s.before, a.is_signed, a.floor_rounding, a.body,
                                            a.codes_bytes, a.body + a.codes_bytes);
      check_launch("encode_kernel");
    }
  });
}

MsBodyCheck ms_check(const MsDecodeArgs& a) {
  DeviceScope scope(a.device);
  const Scratch s = carve(a.scratch, a.d);
  State init{};
  init.min_key = ~0u;
  init.first_nonfinite = init.first_negative = kNone;
  check(cudaMemcpyAsync(s.state, &init, sizeof init, cudaMemcpyHostToDevice, 0), "cudaMemcpyAsync");
  if (a.kept > 0) {
    kept_values_kernel<<<grid_for(a.kept, a.device), kThreads>>>(a.body + a.codes_bytes, a.kept, a.is_signed,
                                                                 s.state);
    check_launch("kept_values_kernel");
  }
  const auto tiles = static_cast<unsigned>(tiles_of(a.d));
  dispatch_bits(a.bits, [&](auto bits) {
    constexpr int B = decltype(bits)::value;  // ms masks are 1..8 bits (options.cpp refuses others)
    if constexpr (B <= 8) {
      count_reserved_kernel<B><<<tiles, kThreads>>>(a.body, a.d, a.codes_bytes, a.is_signed, s.count_a, s.state);
      check_launch("count_reserved_kernel");
    }
  });
  scan_tiles_kernel<<<1, kScanThreads>>>(s.count_a, nullptr, tiles, s.before, s.state);
  check_launch("scan_tiles_kernel");
  State got{};
  check(cudaMemcpy(&got, s.state, sizeof got, cudaMemcpyDeviceToHost), "cudaMemcpy (checks)");
  MsBodyCheck c;
  // The first offending kept value decides the reason, as on the CPU.
  c.nonfinite_kept = got.first_nonfinite != kNone && got.first_nonfinite < got.first_negative;
  c.negative_kept = got.first_negative != kNone && got.first_negative < got.first_nonfinite;
  c.invalid_code = (got.flags & kInvalidCode) != 0;
  c.reserved = static_cast<int64_t>(got.total);
  return c;
}

void ms_decode(const MsDecodeArgs& a) {
  DeviceScope scope(a.device);
  const Scratch s = carve(a.scratch, a.d);
  const auto tiles = static_cast<unsigned>(tiles_of(a.d));
  dispatch_bits(a.bits, [&](auto bits) {
    constexpr int B = decltype(bits)::value;  // ms masks are 1..8 bits (options.cpp refuses others)
    if constexpr (B <= 8) {
      decode_kernel<B><<<tiles, kThreads>>>(a.body, a.d, a.codes_bytes, a.is_signed, s.state, s.before,
                                            a.body + a.codes_bytes, a.out);
      check_launch("decode_kernel");
    }
  });
}

}  // namespace mesl::codec::detail::gpu
