#include "signal/biquad.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>

#include "signal/node_state.hpp"

#include "signal/avx2_lanes.hpp"

namespace loophole::signal {

biquad_coefficients rbj_coefficients(const biquad_design& d, double rate) noexcept {
  const double w0 = 2.0 * std::numbers::pi * d.freq / rate;
  const double cosw = std::cos(w0), sinw = std::sin(w0);
  const double a = std::pow(10.0, d.gain_db / 40.0);
  const bool bw_applies = d.bw > 0.0 && (d.type == biquad_type::peak ||
                                          d.type == biquad_type::band_pass ||
                                          d.type == biquad_type::notch ||
                                          d.type == biquad_type::all_pass);
  const bool shelf = d.type == biquad_type::low_shelf || d.type == biquad_type::high_shelf;
  double alpha = sinw / (2.0 * d.q);
  if (bw_applies)
    alpha = sinw * std::sinh(std::numbers::ln2 / 2.0 * d.bw * w0 / sinw);
  else if (shelf && !d.shelf_uses_q)
    alpha = sinw / 2.0 * std::sqrt(2.0); // slope S = 1: sqrt((A + 1/A)(1/S - 1) + 2)
  double b0 = 1, b1 = 0, b2 = 0, a0 = 1, a1 = 0, a2 = 0;
  switch (d.type) {
    case biquad_type::low_pass:
      b0 = (1.0 - cosw) / 2.0, b1 = 1.0 - cosw, b2 = (1.0 - cosw) / 2.0;
      a0 = 1.0 + alpha, a1 = -2.0 * cosw, a2 = 1.0 - alpha;
      break;
    case biquad_type::high_pass:
      b0 = (1.0 + cosw) / 2.0, b1 = -(1.0 + cosw), b2 = (1.0 + cosw) / 2.0;
      a0 = 1.0 + alpha, a1 = -2.0 * cosw, a2 = 1.0 - alpha;
      break;
    case biquad_type::band_pass:
      b0 = alpha, b1 = 0.0, b2 = -alpha;
      a0 = 1.0 + alpha, a1 = -2.0 * cosw, a2 = 1.0 - alpha;
      break;
    case biquad_type::notch:
      b0 = 1.0, b1 = -2.0 * cosw, b2 = 1.0;
      a0 = 1.0 + alpha, a1 = -2.0 * cosw, a2 = 1.0 - alpha;
      break;
    case biquad_type::all_pass:
      b0 = 1.0 - alpha, b1 = -2.0 * cosw, b2 = 1.0 + alpha;
      a0 = 1.0 + alpha, a1 = -2.0 * cosw, a2 = 1.0 - alpha;
      break;
    case biquad_type::peak:
      b0 = 1.0 + alpha * a, b1 = -2.0 * cosw, b2 = 1.0 - alpha * a;
      a0 = 1.0 + alpha / a, a1 = -2.0 * cosw, a2 = 1.0 - alpha / a;
      break;
    case biquad_type::low_shelf: {
      const double k = 2.0 * std::sqrt(a) * alpha;
      b0 = a * ((a + 1.0) - (a - 1.0) * cosw + k);
      b1 = 2.0 * a * ((a - 1.0) - (a + 1.0) * cosw);
      b2 = a * ((a + 1.0) - (a - 1.0) * cosw - k);
      a0 = (a + 1.0) + (a - 1.0) * cosw + k;
      a1 = -2.0 * ((a - 1.0) + (a + 1.0) * cosw);
      a2 = (a + 1.0) + (a - 1.0) * cosw - k;
      break;
    }
    case biquad_type::high_shelf: {
      const double k = 2.0 * std::sqrt(a) * alpha;
      b0 = a * ((a + 1.0) + (a - 1.0) * cosw + k);
      b1 = -2.0 * a * ((a - 1.0) + (a + 1.0) * cosw);
      b2 = a * ((a + 1.0) + (a - 1.0) * cosw - k);
      a0 = (a + 1.0) - (a - 1.0) * cosw + k;
      a1 = 2.0 * ((a - 1.0) - (a + 1.0) * cosw);
      a2 = (a + 1.0) - (a - 1.0) * cosw - k;
      break;
    }
  }
  return {b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0};
}

namespace {

// Two channels side by side in one SSE2 register: the two recurrences of a
// stereo track advance in the same instructions, and each lane performs
// exactly the scalar operations, so a channel's output is the same bits
// whether it runs in a pair or alone.
using pair = double __attribute__((vector_size(16)));

// The lane vectors below never cross a call boundary that is not inlined or
// internal to this file, so the ABI GCC warns about for them does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

// The channels of a cohort of eq nodes (signal/node_processor.hpp) side by
// side: eight recurrences, two AVX registers, advance in the same
// instructions. Again each lane performs the scalar operations.
constexpr size_t cohort_lanes = 8;
using lanes = double __attribute__((vector_size(8 * cohort_lanes)));

// a * b + c rounded once. std::fma is exactly rounded by definition, so the
// result is the same bits on every CPU: one instruction where the clone below
// runs on a CPU with FMA, the C library's exact emulation elsewhere.
template <class T>
[[gnu::always_inline]] inline T fused_multiply_add(T a, T b, T c) noexcept {
  if constexpr (std::is_floating_point_v<T>) {
    return std::fma(a, b, c);
  } else {
    T r;
    for (size_t i = 0; i < sizeof(T) / sizeof(double); ++i)
      r[i] = std::fma(a[i], b[i], c[i]);
    return r;
  }
}

// Per-lane coefficients of a cohort: lane l holds its node's band.
struct lane_coefficients {
  lanes b0, b1, b2, a1, a2;
};

// One transposed-direct-form-II step. Only one fused multiply-add waits for
// y: the critical path from one sample to the next is an add and an FMA
// (about 8 cycles, against 12 for add, multiply, subtract).
template <class C, class T>
[[gnu::always_inline]] inline T tdf2_step(const C& c, T x, T& s1, T& s2) noexcept {
  const T y = c.b0 * x + s1;
  const T zero{};
  s1 = fused_multiply_add(zero - c.a1, y, c.b1 * x + s2);
  s2 = fused_multiply_add(zero - c.a2, y, c.b2 * x);
  return y;
}

// Constant coefficients, `bands` in series, over one pair of channels (or one
// channel): the state lives in registers for the whole block, and sample n
// of band k+1 overlaps sample n+1 of band k in the CPU's pipeline.
template <size_t bands, class C, class T, class Sample>
[[gnu::always_inline]] inline void run_constant(const C* coefs, T* s1_io,
                                                T* s2_io, const Sample* const* x,
                                                Sample* const* y, uint32_t n) noexcept {
  // Scalar coefficients are copied to stay in registers; a cohort's lane
  // vectors do not fit them and are read where they are.
  constexpr bool scalar = std::is_same_v<C, biquad_coefficients>;
  std::array<C, scalar ? bands : 0> local;
  const C* c = coefs;
  if constexpr (scalar) {
    std::copy_n(coefs, bands, local.begin());
    c = local.data();
  }
  std::array<T, bands> s1, s2;
  for (size_t k = 0; k < bands; ++k)
    s1[k] = s1_io[k], s2[k] = s2_io[k];
  for (uint32_t i = 0; i < n; ++i) {
    T v;
    if constexpr (std::is_floating_point_v<T>) {
      v = static_cast<double>(x[0][i]);
    } else {
      for (size_t l = 0; l < sizeof(T) / sizeof(double); ++l)
        v[l] = static_cast<double>(x[l][i]);
    }
    for (size_t k = 0; k < bands; ++k)
      v = tdf2_step(c[k], v, s1[k], s2[k]);
    if constexpr (std::is_floating_point_v<T>) {
      y[0][i] = static_cast<Sample>(v);
    } else {
      for (size_t l = 0; l < sizeof(T) / sizeof(double); ++l)
        y[l][i] = static_cast<Sample>(v[l]);
    }
  }
  for (size_t k = 0; k < bands; ++k)
    s1_io[k] = s1[k], s2_io[k] = s2[k];
}

// f(std::integral_constant<size_t, bands>) for bands in 1..8: the loops are
// instantiated per band count, so the states stay in registers.
template <class F>
[[gnu::always_inline]] inline void with_band_count(int bands, F&& f) noexcept {
  switch (bands) {
    case 1: return f(std::integral_constant<size_t, 1>{});
    case 2: return f(std::integral_constant<size_t, 2>{});
    case 3: return f(std::integral_constant<size_t, 3>{});
    case 4: return f(std::integral_constant<size_t, 4>{});
    case 5: return f(std::integral_constant<size_t, 5>{});
    case 6: return f(std::integral_constant<size_t, 6>{});
    case 7: return f(std::integral_constant<size_t, 7>{});
    case 8: return f(std::integral_constant<size_t, 8>{});
    default: return;
  }
}

template <class C, class T, class Sample>
[[gnu::always_inline]] inline void dispatch_constant(int bands, const C* c,
                                                     T* s1, T* s2, const Sample* const* x,
                                                     Sample* const* y, uint32_t n) noexcept {
  with_band_count(bands, [&](auto k) { run_constant<decltype(k)::value>(c, s1, s2, x, y, n); });
}

#if defined(__x86_64__) && defined(__GNUC__)
// A clone for CPUs with FMA (x86-64-v3) and one for the baseline: the same
// bits either way (see fused_multiply_add), the first much faster.
#define LOOPHOLE_FMA_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define LOOPHOLE_FMA_CLONES
#endif

// One clone set per sample type and per pairing.
LOOPHOLE_FMA_CLONES
void run_constant_pair(int bands, const biquad_coefficients* c, pair* s1, pair* s2,
                       const float* const* x, float* const* y, uint32_t n) noexcept {
  dispatch_constant(bands, c, s1, s2, x, y, n);
}

LOOPHOLE_FMA_CLONES
void run_constant_pair(int bands, const biquad_coefficients* c, pair* s1, pair* s2,
                       const double* const* x, double* const* y, uint32_t n) noexcept {
  dispatch_constant(bands, c, s1, s2, x, y, n);
}

LOOPHOLE_FMA_CLONES
void run_constant_single(int bands, const biquad_coefficients* c, double* s1, double* s2,
                         const float* const* x, float* const* y, uint32_t n) noexcept {
  dispatch_constant(bands, c, s1, s2, x, y, n);
}

LOOPHOLE_FMA_CLONES
void run_constant_single(int bands, const biquad_coefficients* c, double* s1, double* s2,
                         const double* const* x, double* const* y, uint32_t n) noexcept {
  dispatch_constant(bands, c, s1, s2, x, y, n);
}

#ifdef LOOPHOLE_HAVE_AVX2_LANES
// The lanes on AVX2 and FMA, written with intrinsics (GCC does not turn an
// element-wise std::fma of a vector into vfmadd). Per lane, the operations of
// tdf2_step: b0 x + s1 as a multiply then an add, the fused multiply-adds
// exactly rounded, the conversions to float rounded to nearest as a cast is:
// the same bits as the scalar step. Four frames of the eight lanes are
// loaded, transposed to four vectors of lanes per half, filtered, and
// transposed back.
using avx2::load4;
using avx2::store4;
using avx2::transpose4;

struct lane_half {
  __m256d b0, b1, b2, na1, na2, s1, s2;
};

template <size_t bands>
LOOPHOLE_AVX2_INLINE __m256d lanes_step(lane_half* h, __m256d v) noexcept {
  for (size_t k = 0; k < bands; ++k) {
    auto& b = h[k];
    const __m256d y = _mm256_add_pd(_mm256_mul_pd(b.b0, v), b.s1);
    b.s1 = _mm256_fmadd_pd(b.na1, y, _mm256_add_pd(_mm256_mul_pd(b.b1, v), b.s2));
    b.s2 = _mm256_fmadd_pd(b.na2, y, _mm256_mul_pd(b.b2, v));
    v = y;
  }
  return v;
}

template <size_t bands, class Sample>
__attribute__((target("avx2,fma"))) void lanes_fma(const lane_coefficients* c, lanes* s1_io,
                                                   lanes* s2_io, const Sample* const* x,
                                                   Sample* const* y, uint32_t n) noexcept {
  lane_half h[2][bands];
  const __m256d zero = _mm256_setzero_pd();
  for (size_t j = 0; j < 2; ++j)
    for (size_t k = 0; k < bands; ++k) {
      const auto half = [&](const lanes& v) {
        return reinterpret_cast<const double*>(&v) + 4 * j;
      };
      h[j][k] = {_mm256_loadu_pd(half(c[k].b0)),
                 _mm256_loadu_pd(half(c[k].b1)),
                 _mm256_loadu_pd(half(c[k].b2)),
                 _mm256_sub_pd(zero, _mm256_loadu_pd(half(c[k].a1))),
                 _mm256_sub_pd(zero, _mm256_loadu_pd(half(c[k].a2))),
                 _mm256_loadu_pd(half(s1_io[k])),
                 _mm256_loadu_pd(half(s2_io[k]))};
    }
  uint32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    __m256d r[2][4];
    for (size_t j = 0; j < 2; ++j) {
      for (size_t q = 0; q < 4; ++q)
        r[j][q] = load4(x[4 * j + q] + i);
      transpose4(r[j]);
    }
    for (size_t q = 0; q < 4; ++q) // both halves' chains side by side
      for (size_t j = 0; j < 2; ++j)
        r[j][q] = lanes_step<bands>(h[j], r[j][q]);
    for (size_t j = 0; j < 2; ++j) {
      transpose4(r[j]);
      for (size_t q = 0; q < 4; ++q)
        store4(y[4 * j + q] + i, r[j][q]);
    }
  }
  for (; i < n; ++i)
    for (size_t j = 0; j < 2; ++j) {
      alignas(32) double v[4];
      for (size_t q = 0; q < 4; ++q)
        v[q] = static_cast<double>(x[4 * j + q][i]);
      _mm256_store_pd(v, lanes_step<bands>(h[j], _mm256_load_pd(v)));
      for (size_t q = 0; q < 4; ++q)
        y[4 * j + q][i] = static_cast<Sample>(v[q]);
    }
  for (size_t j = 0; j < 2; ++j)
    for (size_t k = 0; k < bands; ++k) {
      _mm256_storeu_pd(reinterpret_cast<double*>(&s1_io[k]) + 4 * j, h[j][k].s1);
      _mm256_storeu_pd(reinterpret_cast<double*>(&s2_io[k]) + 4 * j, h[j][k].s2);
    }
}
#endif

// Eight channels through `bands` bands with per-lane coefficients: the
// AVX2/FMA kernel where the CPU has it, else the generic lane loop (the same
// bits, through the C library's fma).
template <class Sample>
void run_constant_lanes(int bands, const lane_coefficients* c, lanes* s1, lanes* s2,
                        const Sample* const* x, Sample* const* y, uint32_t n) noexcept {
#ifdef LOOPHOLE_HAVE_AVX2_LANES
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    with_band_count(bands, [&](auto k) { lanes_fma<decltype(k)::value>(c, s1, s2, x, y, n); });
    return;
  }
#endif
  dispatch_constant(bands, c, s1, s2, x, y, n);
}

constexpr double default_freq = 1000.0, default_q = 0.7071;

std::string band_param(int band, const char* what) {
  std::string name = "b1_";
  name[1] = static_cast<char>('1' + band);
  return name.append(what);
}

// Up to eight RBJ bands in series, double coefficients and state, Sample in
// and out. A band whose parameters follow automation recomputes its
// coefficients on every frame where one of its values changed (a pure
// function of the values, so the cache never changes the output).
// Frequencies are clamped to [1 Hz, 0.49 x rate] (the catalog's range cannot
// know the rate), and modulated values to the catalog's ranges.
template <class Sample>
class eq_node final : public basic_node_processor<Sample> {
public:
  using view = basic_audio_view<Sample>;

  eq_node(const render_graph& graph, const render_node& node)
    : rate_(graph.sample_rate), channels_(node.channels) {
    for (int b = 0; b < max_eq_bands; ++b) {
      band bd;
      const auto type = param_or(node, band_param(b, "type"), -1.0);
      bd.active = type >= 0.0;
      bd.design.type = static_cast<biquad_type>(bd.active ? static_cast<int>(type) : 0);
      bd.design.shelf_uses_q = param_or(node, band_param(b, "q"), -1.0) > 0.0 ||
                               lane_of(node, band_param(b, "q")) != nullptr;
      // Every automatable parameter gets its stream, active band or not, so
      // the state matches modulation_state_bytes(node).
      bd.freq = streams_.add(node, band_param(b, "freq"),
                             param_or(node, band_param(b, "freq"), default_freq));
      bd.gain = streams_.add(node, band_param(b, "gain_db"),
                             param_or(node, band_param(b, "gain_db"), 0.0));
      bd.q = streams_.add(node, band_param(b, "q"), param_or(node, band_param(b, "q"), default_q));
      bd.bw = streams_.add(node, band_param(b, "bw"), param_or(node, band_param(b, "bw"), 0.0));
      bd.varies = streams_[bd.freq].varies() || streams_[bd.gain].varies() ||
                  streams_[bd.q].varies() || streams_[bd.bw].varies();
      if (bd.active)
        bands_.push_back(bd);
    }
    varies_ = false;
    for (auto& bd : bands_) {
      set_design(bd, streams_[bd.freq].constant(), streams_[bd.gain].constant(),
                 streams_[bd.q].constant(), streams_[bd.bw].constant());
      varies_ = varies_ || bd.varies;
      coefs_.push_back(bd.coefs);
    }
  }

  void prepare(uint32_t max_block) override {
    streams_.prepare(max_block);
    state_.assign(bands_.size() * channels_ * 2, 0.0);
  }

  void process_rt(const process_context& ctx, std::span<const view> inputs,
                  const view& out) noexcept override {
    const denormal_guard guard;
    const auto& in = inputs[0];
    if (bands_.empty()) {
      for (uint16_t c = 0; c < out.channels; ++c)
        std::copy_n(in[c], ctx.frames, out[c]);
      return;
    }
    if (varies_)
      process_varying(ctx, in, out);
    else
      process_constant(ctx.frames, in, out);
  }

  // Constant coefficients make the eq a pure recurrence per channel: nodes
  // with as many bands and channels run side by side in the lanes of
  // run_constant_lanes, each lane the scalar operations of its own channel.
  uint64_t cohort_key() const noexcept override {
    if (varies_ || bands_.empty())
      return 0;
    return cohort_key_of(node_kind::eq, uint64_t{bands_.size()} << 16 | channels_);
  }

  void process_cohort_rt(const process_context& ctx,
                         std::span<basic_node_processor<Sample>* const> members,
                         std::span<const std::span<const view>> inputs,
                         std::span<const view> outputs) noexcept override {
    const denormal_guard guard;
    const size_t bands = bands_.size();
    const size_t total = members.size() * channels_;
    // Lanes are (member, channel) in order; a last group short of lanes
    // repeats its first lane, which computes and writes the same values again.
    for (size_t first = 0; first < total; first += cohort_lanes) {
      std::array<lane_coefficients, max_eq_bands> c;
      std::array<lanes, max_eq_bands> s1, s2;
      std::array<const Sample*, cohort_lanes> x;
      std::array<Sample*, cohort_lanes> y;
      for (size_t l = 0; l < cohort_lanes; ++l) {
        const size_t lane = first + l < total ? first + l : first;
        const size_t m = lane / channels_;
        const auto ch = static_cast<uint16_t>(lane % channels_);
        const auto& node = *static_cast<const eq_node*>(members[m]);
        for (size_t k = 0; k < bands; ++k) {
          const auto& ck = node.coefs_[k];
          c[k].b0[l] = ck.b0, c[k].b1[l] = ck.b1, c[k].b2[l] = ck.b2;
          c[k].a1[l] = ck.a1, c[k].a2[l] = ck.a2;
          s1[k][l] = node.state_[node.at(k, ch)];
          s2[k][l] = node.state_[node.at(k, ch) + 1];
        }
        x[l] = inputs[m][0][ch];
        y[l] = outputs[m][ch];
      }
      run_constant_lanes(static_cast<int>(bands), c.data(), s1.data(), s2.data(), x.data(),
                         y.data(), ctx.frames);
      for (size_t l = 0; l < cohort_lanes && first + l < total; ++l) {
        auto& node = *static_cast<eq_node*>(members[(first + l) / channels_]);
        const auto ch = static_cast<uint16_t>((first + l) % channels_);
        for (size_t k = 0; k < bands; ++k) {
          node.state_[node.at(k, ch)] = s1[k][l];
          node.state_[node.at(k, ch) + 1] = s2[k][l];
        }
      }
    }
  }

  std::vector<std::byte> snapshot() const override {
    state_writer w(streams_.state_bytes() + state_.size() * sizeof(double));
    w.put_streams(streams_);
    w.put_all(std::span<const double>(state_));
    return w.take();
  }

  bool restore(std::span<const std::byte> state) override {
    if (state.size() != streams_.state_bytes() + state_.size() * sizeof(double))
      return false;
    state_reader r(state);
    std::vector<double> filters(state_.size());
    if (!r.get_streams(streams_) || !r.get_all(std::span<double>(filters)))
      return false;
    for (double v : filters)
      if (!std::isfinite(v))
        return false;
    state_ = std::move(filters);
    return true;
  }

private:
  struct band {
    bool active = false, varies = false;
    size_t freq = 0, gain = 0, q = 0, bw = 0; // stream indices
    biquad_design design;
    biquad_coefficients coefs;
  };

  void set_design(band& bd, double freq, double gain, double q, double bw) noexcept {
    bd.design.freq = std::clamp(freq, 1.0, 0.49 * rate_);
    bd.design.gain_db = std::clamp(gain, -48.0, 48.0);
    bd.design.q = std::clamp(q, 0.025, 100.0);
    bd.design.bw = std::clamp(bw, 0.0, 10.0);
    bd.coefs = rbj_coefficients(bd.design, rate_);
  }

  // State index of (band k, channel c): s1 then s2.
  size_t at(size_t k, uint16_t c) const noexcept { return (k * channels_ + c) * 2; }

  void process_constant(uint32_t n, const view& in, const view& out) noexcept {
    const int nb = static_cast<int>(bands_.size());
    uint16_t c = 0;
    for (; c + 1 < out.channels; c += 2) {
      std::array<pair, max_eq_bands> s1, s2;
      for (size_t k = 0; k < bands_.size(); ++k) {
        s1[k] = pair{state_[at(k, c)], state_[at(k, c + 1)]};
        s2[k] = pair{state_[at(k, c) + 1], state_[at(k, c + 1) + 1]};
      }
      const Sample* x[2] = {in[c], in[c + 1]};
      Sample* y[2] = {out[c], out[c + 1]};
      run_constant_pair(nb, coefs_.data(), s1.data(), s2.data(), x, y, n);
      for (size_t k = 0; k < bands_.size(); ++k) {
        state_[at(k, c)] = s1[k][0], state_[at(k, c + 1)] = s1[k][1];
        state_[at(k, c) + 1] = s2[k][0], state_[at(k, c + 1) + 1] = s2[k][1];
      }
    }
    if (c < out.channels) {
      std::array<double, max_eq_bands> s1, s2;
      for (size_t k = 0; k < bands_.size(); ++k)
        s1[k] = state_[at(k, c)], s2[k] = state_[at(k, c) + 1];
      const Sample* x[1] = {in[c]};
      Sample* y[1] = {out[c]};
      run_constant_single(nb, coefs_.data(), s1.data(), s2.data(), x, y, n);
      for (size_t k = 0; k < bands_.size(); ++k)
        state_[at(k, c)] = s1[k], state_[at(k, c) + 1] = s2[k];
    }
  }

  // Frame by frame: the bands whose values changed get new coefficients,
  // then every channel takes one step through every band (the channels'
  // recurrences are independent, so they overlap in the pipeline).
  void process_varying(const process_context& ctx, const view& in, const view& out) noexcept {
    struct values {
      const double *freq, *gain, *q, *bw;
    };
    std::array<values, max_eq_bands> v{};
    auto stream_of = [&](size_t index) {
      return streams_[index].varies()
               ? streams_[index].fill(ctx.timeline_frame, ctx.frames, in)
               : nullptr;
    };
    for (size_t k = 0; k < bands_.size(); ++k)
      v[k] = {stream_of(bands_[k].freq), stream_of(bands_[k].gain), stream_of(bands_[k].q),
              stream_of(bands_[k].bw)};
    for (uint32_t i = 0; i < ctx.frames; ++i) {
      for (size_t k = 0; k < bands_.size(); ++k) {
        auto& bd = bands_[k];
        if (!bd.varies)
          continue;
        const double f = v[k].freq ? v[k].freq[i] : streams_[bd.freq].constant();
        const double g = v[k].gain ? v[k].gain[i] : streams_[bd.gain].constant();
        const double q = v[k].q ? v[k].q[i] : streams_[bd.q].constant();
        const double bw = v[k].bw ? v[k].bw[i] : streams_[bd.bw].constant();
        if (f != last_[k][0] || g != last_[k][1] || q != last_[k][2] || bw != last_[k][3]) {
          set_design(bd, f, g, q, bw);
          coefs_[k] = bd.coefs;
          last_[k] = {f, g, q, bw};
        }
      }
      for (uint16_t c = 0; c < out.channels; ++c) {
        double x = static_cast<double>(in[c][i]);
        for (size_t k = 0; k < bands_.size(); ++k)
          x = tdf2_step(coefs_[k], x, state_[at(k, c)], state_[at(k, c) + 1]);
        out[c][i] = static_cast<Sample>(x);
      }
    }
  }

  double rate_;
  uint16_t channels_;
  stream_set streams_;
  std::vector<band> bands_;
  std::vector<biquad_coefficients> coefs_;
  bool varies_ = false;
  /// The values the coefficients of each band were last computed from (NaN:
  /// never), so a constant stretch of automation costs no trigonometry.
  std::array<std::array<double, 4>, max_eq_bands> last_ = [] {
    std::array<std::array<double, 4>, max_eq_bands> a;
    for (auto& b : a)
      b.fill(std::numeric_limits<double>::quiet_NaN());
    return a;
  }();
  std::vector<double> state_; ///< per band, per channel: s1, s2
};

} // namespace

template <class Sample>
std::unique_ptr<basic_node_processor<Sample>> make_eq(const render_graph& graph,
                                                      const render_node& node) {
  return std::make_unique<eq_node<Sample>>(graph, node);
}

template std::unique_ptr<node_processor> make_eq<float>(const render_graph&, const render_node&);
template std::unique_ptr<node_processor_f64> make_eq<double>(const render_graph&,
                                                             const render_node&);

uint64_t eq_state_bytes(const render_node& node) noexcept {
  uint64_t bands = 0;
  char name[] = "b1_type";
  for (int b = 0; b < max_eq_bands; ++b) {
    name[1] = static_cast<char>('1' + b);
    if (param_or(node, name, -1.0) >= 0.0)
      ++bands;
  }
  return modulation_state_bytes(node) + bands * node.channels * 2 * sizeof(double);
}

} // namespace loophole::signal
