// Fast CPU kernels for the sparse methods: ms (mask-encoded sparsification), sp (top-k) and rt (randomized top-k).
// Encoding: one top-k selection (internal/select.h), then one fused pass per byte-aligned chunk that decides each
// element, quantizes or keeps it, packs its code and gathers kept values; with sample scope each row is selected
// and encoded in one pass (encode_sample). Decoding: one pass that counts reserved codes per chunk (so each chunk
// knows where its kept values start, and a lying body is refused), then one pass that writes the output.
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "internal/bits.h"
#include "internal/code_groups.h"
#include "internal/isa.h"
#include "internal/kernels.h"
#include "internal/rng.h"
#include "internal/select.h"
#include "internal/simd.h"
#include "mesl/error.h"

namespace mesl::codec::detail {
namespace {

// The ms mask: b bits per element; in signed mode the top bit is the sign and the other b - 1 bits the magnitude.
// L = the number of magnitude levels; the all-ones code marks a kept position.
struct Mask {
  int bits = 2;
  bool is_signed = false;
  bool floor_rounding = false;
  uint32_t levels() const { return is_signed ? (1u << (bits - 1)) - 1 : (1u << bits) - 1; }
  uint32_t reserved() const { return (1u << bits) - 1; }
  uint32_t sign_bit() const { return is_signed ? 1u << (bits - 1) : 0; }
};

// Kept-ness, element by element, for a range that shares one threshold and owns `ties` of its ties.
class KeepTest {
 public:
  KeepTest(const Threshold& th, int64_t ties) : key_(th.key), all_(th.all), ties_(ties) {}
  bool operator()(uint32_t key) {
    if (all_ || key > key_) return true;
    if (key == key_ && ties_ > 0) {
      --ties_;
      return true;
    }
    return false;
  }
  uint32_t key() const { return key_; }
  bool all() const { return all_; }
  bool owns_ties() const { return ties_ > 0; }  // while true, elements equal to the threshold may be kept

 private:
  uint32_t key_;
  bool all_;
  int64_t ties_;
};

// The magnitude code of a non-kept element: round or floor of |x| * L / t, clamped to [0, L - 1]; 0 when t == 0.
inline uint32_t magnitude_code(float magnitude, float t, const Mask& m) {
  if (!(t > 0.0f)) return 0;
  const uint32_t levels = m.levels();
  const auto levels_f = static_cast<float>(levels);
  const float q = (magnitude * levels_f) / t;
  const float r = m.floor_rounding ? std::floor(q) : std::nearbyint(q);
  return r >= levels_f - 1.0f ? levels - 1 : static_cast<uint32_t>(r);
}

// The smallest kept magnitude: the threshold itself (it is always kept when 0 < k < n).
inline float threshold_value(const Threshold& th, int64_t k) {
  return (k == 0 || th.all) ? 0.0f : bits_float(th.key);
}

// Whether the vector loops move a range's kept values between lanes and the dense array with lane permutes
// (sparse_groups.inc), given `kept` of `elements` and how dense they must be. A permute costs the same at any
// density; the element-by-element loops cost a branch per kept value, which mispredicts once kept values are
// common. Crossovers measured on 16.8M ReLU elements (docs/performance.md): with AVX2's table permutes, keep
// 0.01-0.02 for the encoders and about 0.01 for the 1-bit decode (sp, rt, ms b 1), about 0.03 for wider masks, whose
// vector loop does more per group; hence 1 kept value in 64 elements, and 1 in 32 for decoding masks of 2 bits or
// more. AVX-512's compress and expand instructions cost less: its encoders and 1-bit decode gain from keep 0.005-0.01
// (ms at keep 0.01 encodes in 0.9x the time), so 1 in 128 there.
inline bool permute_kept(int64_t kept, int64_t elements, int64_t elements_per_kept) {
  return kept * elements_per_kept >= elements;
}
inline int64_t permute_encode_every() { return active_isa() == Isa::avx512 ? 128 : 64; }
template <int B>
inline int64_t permute_decode_every() {
  return B == 1 ? permute_encode_every() : 32;
}

// Where a range's kept values go. `room` is how many it may still write: the vector loops store 16 lanes at a time
// and must not reach the next range's values (another thread's). `permute`: see permute_kept.
struct KeptValues {
  uint8_t* at = nullptr;
  int64_t room = 0;
  bool permute = false;
  void put(float v) {
    store_f32(at, v);
    at += 4;
    --room;
  }
};

// One element of ms_encode_range: puts its code and, if kept, its value.
template <int B>
inline void ms_encode_one(float v, KeepTest& keep, float t, const Mask& m, CodeWriter<B>& codes, KeptValues& kept) {
  const uint32_t u = float_bits(v), key = u & 0x7FFFFFFFu;
  if (keep(key)) {
    kept.put(v);
    codes.put(m.reserved());
    return;
  }
  uint32_t code = magnitude_code(bits_float(key), t, m);
  if ((u >> 31) && key != 0) code |= m.sign_bit();
  codes.put(code);
}

// The largest key in [0, top] whose magnitude code is below c, or 2^31 - 1 when every key up to top codes below
// c. Codes never decrease as the key grows (float multiplication, division by t > 0 and rounding are monotone),
// so a binary search with magnitude_code itself finds the exact step.
uint32_t code_limit(uint32_t c, uint32_t top, float t, const Mask& m) {
  if (magnitude_code(bits_float(top), t, m) < c) return 0x7FFFFFFFu;
  uint32_t below = 0, at_least = top;  // code(0) = 0 < c <= code(top)
  while (at_least - below > 1) {
    const uint32_t mid = below + (at_least - below) / 2;
    (magnitude_code(bits_float(mid), t, m) >= c ? at_least : below) = mid;
  }
  return below;
}

// Where sp and rt put what they select: a 1-bit stream or uint32 indices (one per value), and the values.
struct Emitter {
  bool kv = false;
  CodeWriter<1>* bitmap = nullptr;
  uint8_t* indices = nullptr;
  KeptValues values;
  void put(int64_t i, float v, bool selected) {
    if (bitmap) bitmap->put(selected ? 1u : 0u);
    if (selected) emit(i, v);
  }
  // A selected element's index (kv) and value, without its bitmap bit.
  void emit(int64_t i, float v) {
    if (kv) {
      store_u32(indices, static_cast<uint32_t>(i));
      indices += 4;
    }
    values.put(v);
  }
};

// Which elements sp and rt emit, given which are in the top-k set: TopK emits those (sp, and rt outside
// training); RankDraw, rt in training, emits where rt_choose drew the element's rank, counting the top set's
// elements and the others' apart, each in index order. Both decide one element (operator()) or a group of 1 to 32
// lanes at once (group: bit j of `top` is lane j). RankDraw also gives a group's draws per class (ranks), which the
// AVX-512 loops move to their lanes with pdep (sparse_groups.inc's drawn_lanes).
struct TopK {
  static constexpr bool kRanked = false;
  bool operator()(bool top) const { return top; }
  unsigned group(unsigned top, int /*lanes*/) const { return top; }
};

class RankDraw {
 public:
  static constexpr bool kRanked = true;
  // The words, not the sets: the group loops copy their draw into registers, which a reference would defeat.
  RankDraw(const RtChoice& choice, int64_t top_rank, int64_t rest_rank)
      : top_(choice.top.words.data()), rest_(choice.rest.words.data()), top_rank_(top_rank), rest_rank_(rest_rank) {}
  bool operator()(bool top) { return top ? rank_bits(top_, top_rank_++, 1) : rank_bits(rest_, rest_rank_++, 1); }
  // Whether each top lane (bit i: the i-th set bit of `top`) and each other lane (bit i: the i-th clear one) was
  // drawn.
  struct Ranks {
    unsigned top, rest;
  };
  Ranks ranks(unsigned top, int lanes) {
    const int n_top = __builtin_popcount(top);
    const Ranks r{rank_bits(top_, top_rank_, n_top), rank_bits(rest_, rest_rank_, lanes - n_top)};
    top_rank_ += n_top;
    rest_rank_ += lanes - n_top;
    return r;
  }
  unsigned group(unsigned top, int lanes) {
    const Ranks r = ranks(top, lanes);
    // Mostly every top lane is drawn and no other: at keep 0.04 and alpha 0.1, rt draws about 80% of its k from the
    // top set and under 1% of the other elements, so about 80% of the groups take this branch, which predicts
    // well; the loop below does not.
    if (r.rest == 0 && r.top == (1u << __builtin_popcount(top)) - 1) return top;
    unsigned drawn = r.rest, top_drawn = r.top;
    for (unsigned l = top; l != 0; l &= l - 1) {  // opens a gap at each top lane, lowest first, and fills it
      const int j = __builtin_ctz(l);
      const unsigned below = (1u << j) - 1;
      drawn = (drawn & below) | (top_drawn & 1u) << j | (drawn & ~below) << 1;
      top_drawn >>= 1;
    }
    return drawn;
  }

 private:
  const uint64_t* top_;
  const uint64_t* rest_;
  int64_t top_rank_, rest_rank_;
};

// One element of sp_encode_range.
template <typename Draw>
inline void sp_encode_one(const float* x, int64_t j, int64_t base, KeepTest& keep, Emitter& e, Draw& draw) {
  e.put(base + j, x[j], draw(keep(magnitude_key(x[j]))));
}

// The group loops, once per instruction set (isa.h).
#define MESL_PER_ISA_KERNELS "sparse_groups.inc"
#include "internal/per_isa.inc"

// Encodes x[begin, end) into `codes` (kept positions get the reserved code) and its kept values into `kept`:
// element by element up to the writer's first group boundary, whole groups with the active instruction set, then
// the rest.
template <int B>
void ms_encode_range(const float* x, int64_t begin, int64_t end, KeepTest keep, float t, const Mask& m,
                     CodeWriter<B>& codes, KeptValues kept) {
  int64_t i = begin;
#if MESL_CODEC_SIMD
  if constexpr (B <= 8) {
    for (; i < end && !codes.at_group_start(); ++i) ms_encode_one<B>(x[i], keep, t, m, codes, kept);
    i = MESL_ISA_CALL(ms_encode_groups<B>(x, i, end, keep, t, m, codes, kept));
  }
#endif
  for (; i < end; ++i) ms_encode_one<B>(x[i], keep, t, m, codes, kept);
}

// sp and rt: emits the elements of x[begin, end) that `draw` picks, as positions base + i, whole groups at a time
// where the bitmap writer (if any) is on a group boundary.
template <typename Draw>
void sp_encode_range(const float* x, int64_t begin, int64_t end, int64_t base, KeepTest keep, Emitter& e,
                     Draw draw) {
  int64_t i = begin;
#if MESL_CODEC_SIMD
  for (; i < end && e.bitmap && !e.bitmap->at_group_start(); ++i) sp_encode_one(x, i, base, keep, e, draw);
  i = MESL_ISA_CALL(sp_encode_groups(x, i, end, base, keep, e, draw));
#endif
  for (; i < end; ++i) sp_encode_one(x, i, base, keep, e, draw);
}

// Calls f(row_begin, row_end) over row blocks, in parallel when that is worth it and allowed.
template <typename F>
void for_rows(int64_t rows, int64_t row_elements, int threads, bool parallel_ok, F&& f) {
  if (!parallel_ok || threads == 1 || rows <= 1) {
    f(int64_t{0}, rows);
    return;
  }
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(row_elements, 1));
  at::parallel_for(0, rows, grain, f);
}

// Whether rt's draw of k of d positions should run beside a one-thread selection rather than after a selection on
// `threads` threads. A draw costs about 32 times what one element costs a one-thread selection (6.6 ns per drawn
// position against 0.2 ns per element for rt_choose and select_top_k on a 16.8M-element ReLU tensor, on the VM of
// docs/performance.md's "rt's draw beside the selection"), so it takes 32k/d of that selection's time; running beside
// it pays once that is the share (1 - 1/threads) that the other threads would save. Selection scales worse than that
// where memory sets its pace, so this errs towards the plain order.
inline bool overlap_draw(int64_t k, int64_t d, int64_t threads) {
  return threads > 1 && 32 * k * threads >= (threads - 1) * d;
}

void encode_batch(EncodeJob& job, const float* x, uint8_t* body) {
  Header& h = job.header;
  const Layout& l = job.layout;
  // rt in training draws k positions around the top-k set (rt_choose). The draw reads the stream alone, not the data,
  // so where it is long enough it runs on one thread while another selects (alone: nested parallel_for calls run
  // inline) instead of after a selection on every thread.
  const bool random = h.method == Method::rt && job.training;
  RtChoice choice;
  auto draw = [&] {
    Rng rng(job.seed, job.draw, 0);
    choice = rt_choose(h.d, h.k, job.alpha, rng);
  };
  std::vector<Chunk> chunks = make_chunks(h.d, job.threads);
  Selection s;
  if (random && overlap_draw(h.k, h.d, static_cast<int64_t>(chunks.size()))) {
    at::parallel_for(0, 2, 1, [&](int64_t b, int64_t e) {
      for (int64_t task = b; task < e; ++task) {
        if (task == 0) draw();
        else s = select_top_k(x, h.d, h.k, std::move(chunks));
      }
    });
  } else {
    s = select_top_k(x, h.d, h.k, std::move(chunks));
    if (random) draw();
  }
  h.is_signed = decide_sign(job, s.flags.negative, s.flags.nonfinite);
  const auto nchunks = static_cast<int64_t>(s.chunks.size());
  uint8_t* codes = body;
  uint8_t* index_base = body + l.codes_bytes;
  uint8_t* values = body + l.codes_bytes + l.index_bytes;

  if (h.method == Method::ms) {
    const Mask m{h.bits, h.is_signed, h.floor_rounding};
    const float t = threshold_value(s.threshold, h.k);
    const bool permute = permute_kept(h.k, h.d, permute_encode_every());
    dispatch_bits(h.bits, [&](auto bits) {
      constexpr int B = decltype(bits)::value;
      if constexpr (B <= 8) {
        for_each_chunk(nchunks, [&](int64_t c) {
          const Chunk& ch = s.chunks[c];
          CodeWriter<B> w(codes + ch.begin * B / 8, ch.end - ch.begin);
          ms_encode_range<B>(x, ch.begin, ch.end, KeepTest(s.threshold, ch.ties), t, m, w,
                             {values + 4 * ch.kept_before, ch.kept, permute});
          w.finish();
        });
      }
    });
    return;
  }

  // sp and rt: the top-k set, or (rt in training) k positions drawn around it.
  const bool permute = permute_kept(h.k, h.d, permute_encode_every());
  for_each_chunk(nchunks, [&](int64_t c) {
    const Chunk& ch = s.chunks[c];
    // A chunk's top-k elements have ranks [kept_before, kept_before + kept) in the top set; its others, the ranks
    // from begin - kept_before in the rest. rt emits the drawn ones among them, so its values start where the
    // draws of the chunks before end.
    const int64_t top_rank = ch.kept_before, rest_rank = ch.begin - ch.kept_before;
    int64_t out_before = ch.kept_before, out = ch.kept;
    if (random) {
      out_before = choice.top.count_below(top_rank) + choice.rest.count_below(rest_rank);
      out = choice.top.count_below(top_rank + ch.kept) + choice.rest.count_below(ch.end - ch.kept_before - ch.kept) -
            out_before;
    }
    CodeWriter<1> w(codes + ch.begin / 8, ch.end - ch.begin);
    Emitter e{h.kv_positions, h.kv_positions ? nullptr : &w, index_base + 4 * out_before,
              {values + 4 * out_before, out, permute}};
    const KeepTest keep(s.threshold, ch.ties);
    if (random) sp_encode_range(x, ch.begin, ch.end, 0, keep, e, RankDraw(choice, top_rank, rest_rank));
    else sp_encode_range(x, ch.begin, ch.end, 0, keep, e, TopK{});
    if (!h.kv_positions) w.finish();
  });
}

// Sample scope: each row has its own threshold. A row is selected and then encoded at once, while it is still in
// this core's cache, so the input is read from memory once (selecting all rows first and then encoding them read
// it twice). Encoding needs the payload's sign, which ms in automatic mode only learns from the whole tensor: the
// fused pass assumes unsigned, and once a row holds a negative value (or a non-finite one, which is refused) it stops
// encoding; a second pass then encodes every row again with the sign of the whole tensor.
void encode_sample(EncodeJob& job, const float* x, uint8_t* body) {
  Header& h = job.header;
  const Layout& l = job.layout;
  const int64_t rows = l.units, n = l.unit_elements, k = h.k;
  std::vector<Threshold> th(static_cast<size_t>(rows));
  std::vector<ScanFlags> flags(static_cast<size_t>(rows));
  uint8_t* codes = body;
  uint8_t* index_base = body + l.codes_bytes;
  uint8_t* values = body + l.codes_bytes + l.index_bytes;
  const bool ms = h.method == Method::ms;
  const bool random = h.method == Method::rt && job.training;
  const bool permute = permute_kept(k, n, permute_encode_every());
  // Rows whose codes start on a byte boundary (and sp and rt rows with kv positions, which have no codes) can be
  // written in parallel, so selected and encoded in one pass; otherwise one writer runs through all rows after the
  // selection.
  const int code_bits = ms ? h.bits : 1;
  const bool independent = (n * code_bits) % 8 == 0 || (!ms && h.kv_positions);
  const bool assumed_signed = ms && job.sign == Sign::signed_values;
  std::atomic<bool> stop{false};  // a row contradicts the assumed sign, or is refused

  auto select = [&](int64_t r) {
    th[r] = select_row(x + r * n, n, k, flags[r]);
    if (flags[r].nonfinite || (ms && flags[r].negative && !assumed_signed))
      stop.store(true, std::memory_order_relaxed);
  };
  // One pass over rows [b, e): selects each row (`selecting`) and encodes it (`encoding`) with the sign h.is_signed.
  auto pass = [&](int64_t b, int64_t e, bool selecting, bool encoding) {
    // (the fused pass stops encoding at a row that contradicts the assumed sign; the second pass encodes them all)
    auto skip = [&] { return !encoding || (selecting && stop.load(std::memory_order_relaxed)); };
    if (ms) {
      const Mask m{h.bits, h.is_signed, h.floor_rounding};
      dispatch_bits(h.bits, [&](auto bits) {
        constexpr int B = decltype(bits)::value;
        if constexpr (B <= 8) {
          CodeWriter<B> w(codes + b * n * B / 8, (e - b) * n);
          for (int64_t r = b; r < e; ++r) {
            if (selecting) select(r);
            if (skip()) continue;
            ms_encode_range<B>(x + r * n, 0, n, KeepTest(th[r], th[r].ties), threshold_value(th[r], k), m, w,
                               {values + 4 * r * k, k, permute});
          }
          if (encoding) w.finish();
        }
      });
      return;
    }
    CodeWriter<1> w(codes + b * n / 8, (e - b) * n);
    for (int64_t r = b; r < e; ++r) {
      if (selecting) select(r);
      if (skip()) continue;
      Emitter em{h.kv_positions, h.kv_positions ? nullptr : &w, index_base + 4 * r * k,
                 {values + 4 * r * k, k, permute}};
      const KeepTest keep(th[r], th[r].ties);
      if (random) {
        Rng rng(job.seed, job.draw, static_cast<uint64_t>(r));
        const RtChoice choice = rt_choose(n, k, job.alpha, rng);
        sp_encode_range(x + r * n, 0, n, r * n, keep, em, RankDraw(choice, 0, 0));
      } else {
        sp_encode_range(x + r * n, 0, n, r * n, keep, em, TopK{});
      }
    }
    if (encoding && !h.kv_positions) w.finish();
  };

  h.is_signed = assumed_signed;
  for_rows(rows, n, job.threads, true, [&](int64_t b, int64_t e) { pass(b, e, true, independent); });
  ScanFlags all;
  for (const auto& f : flags) all.merge(f);
  h.is_signed = decide_sign(job, all.negative, all.nonfinite);
  // (a stop means a refusal, thrown above, or a sign other than the assumed one; `!stop` keeps that local)
  if (independent && h.is_signed == assumed_signed && !stop.load()) return;
  for_rows(rows, n, job.threads, independent, [&](int64_t b, int64_t e) { pass(b, e, false, true); });
}

// ---- decoding ------------------------------------------------------------------------------------------------

// Kept values must be finite, and non-negative in an unsigned ms payload; t of a unit is its smallest magnitude.
void check_kept(const Header& h, const uint8_t* values, int64_t count) {
  const bool nonneg = h.method == Method::ms && !h.is_signed;
  for (int64_t i = 0; i < count; ++i) {
    const float v = load_f32(values + 4 * i);
    if (!std::isfinite(v)) refuse_kept_nonfinite();
    if (nonneg && v < 0.0f) refuse_kept_negative();
  }
}

float min_magnitude(const uint8_t* values, int64_t count) {
  if (count == 0) return 0.0f;
  float t = std::fabs(load_f32(values));
  for (int64_t i = 1; i < count; ++i) t = std::min(t, std::fabs(load_f32(values + 4 * i)));
  return t;
}

// Counts reserved codes in [0, n) of a stream; refuses codes that no encoder writes.
template <int B>
int64_t count_reserved(CodeReader<B>& r, int64_t n, const Mask& m) {
  const uint32_t reserved = m.reserved(), invalid = m.is_signed ? m.levels() : reserved + 1;  // sign 0, magnitude L
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t c = r.get();
    count += c == reserved;
    if (c == invalid) refuse_invalid_code();
  }
  return count;
}

template <int B>
void ms_decode_range(CodeReader<B>& r, int64_t n, float t, const Mask& m, const uint8_t*& kept, float* out) {
  const uint32_t reserved = m.reserved(), sign_bit = m.sign_bit(), mag_mask = (1u << (m.is_signed ? B - 1 : B)) - 1;
  const auto levels_f = static_cast<float>(m.levels());
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t c = r.get();
    if (c == reserved) {
      out[i] = load_f32(kept);
      kept += 4;
      continue;
    }
    const float v = (static_cast<float>(c & mag_mask) * t) / levels_f;
    out[i] = (c & sign_bit) ? -v : v;
  }
}

// count_reserved for n codes starting at a byte boundary: reserved codes found a word at a time (unsigned masks
// whose width divides 64: every code but the reserved one is valid) or a group at a time (the instruction set's loop,
// then the last groups here); a signed mask's invalid code (magnitude L without the sign bit) is refused as
// count_reserved refuses it.
template <int B>
int64_t count_reserved_groups(const uint8_t* codes, int64_t n, const Mask& m) {
  int64_t count = 0, done = 0;
  if constexpr (64 % B == 0) {
    if (!m.is_signed) {
      const int64_t words = n / (64 / B);
#if MESL_CODEC_SIMD
      count = MESL_ISA_CALL(count_reserved_words<B>(codes, words));
#else
      for (int64_t i = 0; i < words; ++i) {
        uint64_t w;
        std::memcpy(&w, codes + 8 * i, 8);
        count += __builtin_popcountll(ones_at<B>(w, B));
      }
#endif
      done = words * (64 / B);
    }
  }
  uint64_t invalid = 0;
#if MESL_CODEC_SIMD
  {
    const int64_t rest = n - done;
    const int64_t groups = MESL_ISA_CALL(count_reserved_group_run<B>(codes + done / 8 * B, rest / 8,
                                                                     (rest * B + 7) / 8, m.is_signed, count, invalid));
    done += 8 * groups;
  }
#endif
  for_each_group<B>(codes + done / 8 * B, n - done, [&](int64_t, uint64_t w) {
    count += __builtin_popcountll(ones_at<B>(w, B));
    if (m.is_signed) invalid |= ones_at<B>(w, B - 1) & ~(w >> (B - 1));
  });
  if (invalid != 0) refuse_invalid_code();
  done += (n - done) / 8 * 8;
  CodeReader<B> tail(codes + done / 8 * B, n - done);
  return count + count_reserved<B>(tail, n - done, m);
}

// Mask widths from which the lanes compute a group's values (ms_decode_computed_run) rather than look them up. At
// keep 0.01 on 16.8M elements, 1 thread, AVX-512, decode ms (docs/performance.md): 5 bits 6.0 against 6.3 with the
// table, 6 bits 5.9-7.3 against 9.7-11.4, 8 bits 6.6-7.1 against 8.8-12.6; 3 and 4 bits are as fast or faster
// with the table (4 lookups, or 2 and a shift-built lane mask), 1 and 2 bits 1.1-1.6x faster with it.
constexpr int kComputedFromBits = 5;

// ms_decode_range for n codes starting at a byte boundary, with identical results: every group's values come from
// a GroupTable of ms_decode_range's expression, with its reserved positions taking kept values in element order
// (with `permute`, the vector loop of sparse_groups.inc first, then group by group for what it leaves), or, from
// kComputedFromBits, computed in lanes. `kept_end` is the end of the payload's kept values.
template <int B>
void ms_decode_groups(const uint8_t* codes, int64_t n, float t, const Mask& m, const uint8_t*& kept,
                      const uint8_t* kept_end, bool permute, float* out) {
  const uint32_t sign_bit = m.sign_bit(), mag_mask = (1u << (m.is_signed ? B - 1 : B)) - 1;
  const auto levels_f = static_cast<float>(m.levels());
  const GroupTable<B> table([&](uint32_t c) {
    const float v = (static_cast<float>(c & mag_mask) * t) / levels_f;
    return (c & sign_bit) ? -v : v;
  });
  int64_t first = 0;  // groups the vector loop decoded
#if MESL_CODEC_SIMD
  if constexpr (B >= kComputedFromBits) {
    first = MESL_ISA_CALL(ms_decode_computed_run<B>(codes, n / 8, t, levels_f, m.is_signed, kept, kept_end, out));
  } else if (permute) {
    first = MESL_ISA_CALL(ms_decode_group_run<B>(codes, n / 8, table, kept, kept_end, out));
  }
#else
  (void)kept_end, (void)permute;
#endif
  const uint8_t* k = kept;
  for_each_group<B>(codes + first * B, n - 8 * first, [&](int64_t g, uint64_t w) {
    float* o = out + 8 * (first + g);
    table.decode(w, o);
    for (uint64_t r = ones_at<B>(w, B); r != 0; r &= r - 1) {
      o[__builtin_ctzll(r) / B] = load_f32(k);
      k += 4;
    }
  });
  kept = k;
  const int64_t done = n / 8 * 8;
  CodeReader<B> tail(codes + done / 8 * B, n - done);
  ms_decode_range<B>(tail, n - done, t, m, kept, out + done);
}

void decode_masked(const Header& h, const Layout& l, const uint8_t* body, float* out, int threads) {
  // ms codes, or the sp/rt bitmap read as a 1-bit unsigned mask (code 1 = kept, code 0 = zero with t = 0).
  const bool ms = h.method == Method::ms;
  const Mask m{ms ? h.bits : 1, ms && h.is_signed, false};
  const uint8_t* codes = body;
  const uint8_t* values = body + l.codes_bytes;
  const uint8_t* values_end = values + 4 * l.kept;
  const int64_t n = l.unit_elements;
  dispatch_bits(m.bits, [&](auto bits) {
    constexpr int B = decltype(bits)::value;
    if constexpr (B <= 8) {
      if (!h.sample_scope) {
        const float t = ms ? min_magnitude(values, l.kept) : 0.0f;
        auto chunks = make_chunks(h.d, threads);
        const auto nc = static_cast<int64_t>(chunks.size());
        std::vector<int64_t> reserved(static_cast<size_t>(nc));
        for_each_chunk(nc, [&](int64_t c) {
          const uint8_t* at = codes + chunks[c].begin * B / 8;  // chunks start at multiples of 8 elements
          reserved[c] = count_reserved_groups<B>(at, chunks[c].end - chunks[c].begin, m);
        });
        int64_t before = 0;
        for (int64_t c = 0; c < nc; ++c) {
          chunks[c].kept_before = before;
          before += reserved[c];
        }
        if (before != l.kept)
          refuse_marked(before, l.kept);
        for_each_chunk(nc, [&](int64_t c) {
          const uint8_t* at = codes + chunks[c].begin * B / 8;
          const int64_t len = chunks[c].end - chunks[c].begin;
          const uint8_t* kept = values + 4 * chunks[c].kept_before;
          ms_decode_groups<B>(at, len, t, m, kept, values_end, permute_kept(l.kept, h.d, permute_decode_every<B>()),
                              out + chunks[c].begin);
        });
        return;
      }
      // Sample scope: every row must mark exactly k positions; t is per row. Rows whose codes start on a byte
      // boundary can be decoded in parallel, and a group at a time where a row outweighs building its table
      // (t differs per row); otherwise one reader runs through the rows.
      const bool aligned = (n * B) % 8 == 0;
      const bool by_groups = aligned && n >= int64_t{GroupTable<B>::kEntries} * GroupTable<B>::P;
      auto check_row = [&](int64_t r, int64_t got) {
        if (got != h.k)
          refuse_body(::mesl::detail::concat("row ", r, " marks ", got, " kept positions but the header says ", h.k));
      };
      auto run = [&](int64_t b, int64_t e) {
        if (by_groups) {
          for (int64_t r = b; r < e; ++r) check_row(r, count_reserved_groups<B>(codes + r * n * B / 8, n, m));
          for (int64_t r = b; r < e; ++r) {
            const uint8_t* kept = values + 4 * r * h.k;
            const float t = ms ? min_magnitude(kept, h.k) : 0.0f;
            ms_decode_groups<B>(codes + r * n * B / 8, n, t, m, kept, values_end,
                                permute_kept(h.k, n, permute_decode_every<B>()), out + r * n);
          }
          return;
        }
        CodeReader<B> counter(codes + b * n * B / 8, (e - b) * n);
        for (int64_t r = b; r < e; ++r) check_row(r, count_reserved<B>(counter, n, m));
        CodeReader<B> reader(codes + b * n * B / 8, (e - b) * n);
        for (int64_t r = b; r < e; ++r) {
          const uint8_t* kept = values + 4 * r * h.k;
          const float t = ms ? min_magnitude(kept, h.k) : 0.0f;
          ms_decode_range<B>(reader, n, t, m, kept, out + r * n);
        }
      };
      for_rows(l.units, n, threads, aligned, run);
    }
  });
}

void decode_kv(const Header& h, const Layout& l, const uint8_t* body, float* out) {
  std::fill(out, out + h.d, 0.0f);
  const uint8_t* indices = body;
  const uint8_t* values = body + l.index_bytes;
  const int64_t n = l.unit_elements;
  int64_t previous = -1;
  for (int64_t i = 0; i < l.kept; ++i) {
    const auto at = static_cast<int64_t>(load_u32(indices + 4 * i));
    if (at <= previous || at >= h.d) refuse_body("kv indices are not strictly increasing positions inside the tensor");
    if (h.sample_scope && at / n != i / h.k) refuse_body("a kv index lies outside its sample row");
    out[at] = load_f32(values + 4 * i);
    previous = at;
  }
}

}  // namespace

void fast_encode_sparse(EncodeJob& job, const float* x, uint8_t* body) {
  if (job.header.sample_scope)
    encode_sample(job, x, body);
  else
    encode_batch(job, x, body);
}

void fast_decode_sparse(const Header& h, const Layout& l, const uint8_t* body, float* out, int threads) {
  check_kept(h, body + l.codes_bytes + l.index_bytes, l.kept);
  if (h.kv_positions)
    decode_kv(h, l, body, out);
  else
    decode_masked(h, l, body, out, threads);
}

}  // namespace mesl::codec::detail
