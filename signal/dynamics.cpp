#include "signal/dynamics.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <span>

#include "signal/fast_math.hpp"
#include "signal/node_state.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "signal/avx2_lanes.hpp"
#include "signal/vector_clones.hpp"

namespace loophole::signal {

namespace {

channel_gains unity_gains() noexcept {
  channel_gains g{};
  g.fill(1.0);
  return g;
}

// -- block loops ----------------------------------------------------------------

template <class Sample>
LOOPHOLE_VECTOR_CLONES
void max_power(const Sample* __restrict x, double* __restrict power, uint32_t n,
               bool first) noexcept {
  for (uint32_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(x[i]);
    const double p = v * v;
    power[i] = first ? p : (p > power[i] ? p : power[i]);
  }
}

LOOPHOLE_VECTOR_CLONES
void to_db(const double* __restrict power, double* __restrict db, uint32_t n) noexcept {
  for (uint32_t i = 0; i < n; ++i)
    db[i] = fast::power_to_db(power[i]);
}

LOOPHOLE_VECTOR_CLONES
void gate_curve(double* __restrict db, uint32_t n, double threshold, double ratio,
                double range) noexcept {
  for (uint32_t i = 0; i < n; ++i) {
    const double under = db[i] - threshold;
    const double change = under < 0.0 ? (ratio - 1.0) * under : 0.0;
    db[i] = change < range ? range : change;
  }
}

LOOPHOLE_VECTOR_CLONES
void to_gain(const double* __restrict db, const double* __restrict makeup, double makeup_constant,
             double* __restrict gain, uint32_t n) noexcept {
  for (uint32_t i = 0; i < n; ++i)
    gain[i] = fast::db_to_gain(db[i] + (makeup ? makeup[i] : makeup_constant));
}

// gain[i] = mix * gain + (1 - mix): the dry share joins the gain, so one
// multiply applies both to the (delayed) input.
LOOPHOLE_VECTOR_CLONES
void blend_dry(double* __restrict gain, const double* __restrict mix, double mix_constant,
               uint32_t n) noexcept {
  for (uint32_t i = 0; i < n; ++i) {
    const double m = mix ? std::clamp(mix[i], 0.0, 1.0) : mix_constant;
    gain[i] = m * gain[i] + (1.0 - m);
  }
}

template <class Sample>
LOOPHOLE_VECTOR_CLONES
void apply_gain(const Sample* __restrict x, const double* __restrict gain, double folded,
                Sample* __restrict y, uint32_t n) noexcept {
  for (uint32_t i = 0; i < n; ++i)
    y[i] = static_cast<Sample>(static_cast<double>(x[i]) * (gain[i] * folded));
}

// Steps 2 and 3 in one pass, for constant parameters: the level in dB and the
// compressor's target gain change.
LOOPHOLE_VECTOR_CLONES
void power_to_compressor_target(double* __restrict db, uint32_t n, double threshold,
                                double slope, double knee) noexcept {
  const double half = knee / 2.0;
  const double quad = knee > 0.0 ? slope / (2.0 * knee) : 0.0;
  for (uint32_t i = 0; i < n; ++i) {
    const double over = fast::power_to_db(db[i]) - threshold;
    const double k = over + half;
    const double soft = quad * k * k;
    const double hard = slope * over;
    db[i] = 2.0 * over <= -knee ? 0.0 : (2.0 * over < knee ? soft : hard);
  }
}

// Steps 5 and 6 in one pass for a group of one or two channels with constant
// makeup and mix: the gain is never stored.
// `folded0`, `folded1`: constant gains of the fader and pan folded into the
// node (1 when none: k * 1 is k exactly, so an unfolded node keeps its bits).
template <class Sample>
LOOPHOLE_VECTOR_CLONES
void gain_and_apply(const double* __restrict db, double makeup, double mix,
                    const Sample* __restrict x0, const Sample* __restrict x1,
                    Sample* __restrict y0, Sample* __restrict y1, double folded0, double folded1,
                    uint32_t n) noexcept {
  for (uint32_t i = 0; i < n; ++i) {
    const double g = fast::db_to_gain(db[i] + makeup);
    const double k = mix == 1.0 ? g : mix * g + (1.0 - mix);
    y0[i] = static_cast<Sample>(static_cast<double>(x0[i]) * (k * folded0));
    if (x1)
      y1[i] = static_cast<Sample>(static_cast<double>(x1[i]) * (k * folded1));
  }
}

// a < b ? x : y without a branch: which side wins changes from frame to frame
// with the material, and a mispredicted branch costs more than the whole
// step.
inline double select_less(double a, double b, double x, double y) noexcept {
#if defined(__SSE2__)
  const __m128d mask = _mm_cmplt_sd(_mm_set_sd(a), _mm_set_sd(b));
  return _mm_cvtsd_f64(_mm_or_pd(_mm_and_pd(mask, _mm_set_sd(x)), _mm_andnot_pd(mask, _mm_set_sd(y))));
#else
  return a < b ? x : y;
#endif
}

// One-pole smoothing of the gain change in dB: towards the target t with the
// attack coefficient a while the reduction deepens (t < s), the release one
// r while it recovers. Since (a s + (1-a) t) - (r s + (1-r) t) = (a - r)(s - t),
// the attack candidate is the smaller one exactly when t < s and a <= r, so a
// step is f_t(s) = min(a s + (1-a) t, r s + (1-r) t) (max() when a > r): no
// branch to mispredict.
//
// The recursion is the one serial part of the compressor, so it advances two
// frames per step. Both candidates are increasing in s, so
//   f_t1(f_t0(s)) = min(a^2 s + a(1-a) t0 + (1-a) t1, a r s + min(a(1-r) t0 + (1-a) t1,
//                       r(1-a) t0 + (1-r) t1), r^2 s + r(1-r) t0 + (1-r) t1),
// whose offsets do not depend on s: from one pair to the next the chain is a
// multiply, an add and two mins. Pairs are counted from the first frame the
// node processes; a block ending inside a pair keeps the pair's first target
// for the next block, so every block size gives the same bits.
struct pair_smoother {
  double a, r, a1, r1, a2, ar, r2, aa1, ar1, ra1, rr1;

  pair_smoother(double attack, double release) noexcept
    : a(attack), r(release), a1(1.0 - attack), r1(1.0 - release), a2(attack * attack),
      ar(attack * release), r2(release * release), aa1(attack * (1.0 - attack)),
      ar1(attack * (1.0 - release)), ra1(release * (1.0 - attack)),
      rr1(release * (1.0 - release)) {}

  template <bool use_min> static double pick(double x, double y) noexcept {
    if constexpr (use_min)
      return x < y ? x : y;
    else
      return x > y ? x : y;
  }
  template <bool use_min> double one(double s, double t) const noexcept {
    return pick<use_min>(a * s + a1 * t, r * s + r1 * t);
  }
  template <bool use_min> double two(double s, double t0, double t1) const noexcept {
    const double k_aa = aa1 * t0 + a1 * t1;
    const double k_ar = pick<use_min>(ar1 * t0 + a1 * t1, ra1 * t0 + r1 * t1);
    const double k_rr = rr1 * t0 + r1 * t1;
    return pick<use_min>(pick<use_min>(a2 * s + k_aa, ar * s + k_ar), r2 * s + k_rr);
  }

  /// Smooths db[0, n) in place. `s` is the value after the last complete pair;
  /// `pending` whether the last block ended inside a pair, whose first target
  /// is `pending_target`.
  template <bool use_min>
  void run(double* __restrict db, uint32_t n, double& s, bool& pending,
           double& pending_target) const noexcept {
    // A local copy: stores through db could alias the members, and the
    // coefficients must stay in registers.
    const pair_smoother c = *this;
    uint32_t i = 0;
    if (pending && n > 0) {
      s = c.two<use_min>(s, pending_target, db[0]);
      db[0] = s;
      pending = false;
      i = 1;
    }
    double state = s;
    for (; i + 1 < n; i += 2) {
      const double t0 = db[i], t1 = db[i + 1];
      db[i] = c.one<use_min>(state, t0);
      state = c.two<use_min>(state, t0, t1);
      db[i + 1] = state;
    }
    if (i < n) {
      pending = true;
      pending_target = db[i];
      db[i] = c.one<use_min>(state, db[i]);
    }
    s = state;
  }
};

#ifdef LOOPHOLE_HAVE_AVX2_LANES
// The smoothers of eight compressors (a cohort, signal/node_processor.hpp)
// side by side, two AVX vectors of four lanes, each lane the scalar
// operations of pair_smoother::run (multiplies and adds in the same order,
// min and max as the selects x < y ? x : y and x > y ? x : y, which is what
// minpd and maxpd compute), so the same bits. Four frames of each lane are
// loaded and transposed to frame vectors, smoothed two by two, transposed
// back. The caller runs a pending pair's first frame and a last odd frame.
// The vectors never cross a call that is not inlined or internal to this file.
#pragma GCC diagnostic ignored "-Wpsabi"

using avx2::transpose4;

struct smoother_half {
  __m256d a, r, a1, r1, a2, ar, r2, aa1, ar1, ra1, rr1;
};

template <bool use_min>
LOOPHOLE_AVX2_INLINE __m256d pick4(__m256d x, __m256d y) noexcept {
  if constexpr (use_min)
    return _mm256_min_pd(x, y);
  else
    return _mm256_max_pd(x, y);
}

template <bool use_min>
LOOPHOLE_AVX2_INLINE __m256d one4(const smoother_half& c, __m256d s, __m256d t) noexcept {
  return pick4<use_min>(_mm256_add_pd(_mm256_mul_pd(c.a, s), _mm256_mul_pd(c.a1, t)),
                        _mm256_add_pd(_mm256_mul_pd(c.r, s), _mm256_mul_pd(c.r1, t)));
}

template <bool use_min>
LOOPHOLE_AVX2_INLINE __m256d two4(const smoother_half& c, __m256d s, __m256d t0, __m256d t1) noexcept {
  const __m256d k_aa = _mm256_add_pd(_mm256_mul_pd(c.aa1, t0), _mm256_mul_pd(c.a1, t1));
  const __m256d k_ar =
    pick4<use_min>(_mm256_add_pd(_mm256_mul_pd(c.ar1, t0), _mm256_mul_pd(c.a1, t1)),
                   _mm256_add_pd(_mm256_mul_pd(c.ra1, t0), _mm256_mul_pd(c.r1, t1)));
  const __m256d k_rr = _mm256_add_pd(_mm256_mul_pd(c.rr1, t0), _mm256_mul_pd(c.r1, t1));
  return pick4<use_min>(pick4<use_min>(_mm256_add_pd(_mm256_mul_pd(c.a2, s), k_aa),
                                       _mm256_add_pd(_mm256_mul_pd(c.ar, s), k_ar)),
                        _mm256_add_pd(_mm256_mul_pd(c.r2, s), k_rr));
}

/// Frames [from, from + 4 * chunks) of db[0..8) smoothed in place from the
/// states s[0..8) (after a complete pair).
template <bool use_min>
__attribute__((target("avx2,fma"))) void smooth_lanes_avx2(const pair_smoother* const* c,
                                                      double* const* db, double* s,
                                                      uint32_t from, uint32_t chunks) noexcept {
  smoother_half h[2];
  __m256d state[2];
#define LOOPHOLE_LANES(m)                                                                 \
  _mm256_set_pd(c[4 * j + 3]->m, c[4 * j + 2]->m, c[4 * j + 1]->m, c[4 * j]->m)
  for (size_t j = 0; j < 2; ++j) {
    h[j] = {LOOPHOLE_LANES(a),   LOOPHOLE_LANES(r),   LOOPHOLE_LANES(a1),  LOOPHOLE_LANES(r1),
            LOOPHOLE_LANES(a2),  LOOPHOLE_LANES(ar),  LOOPHOLE_LANES(r2),  LOOPHOLE_LANES(aa1),
            LOOPHOLE_LANES(ar1), LOOPHOLE_LANES(ra1), LOOPHOLE_LANES(rr1)};
    state[j] = _mm256_loadu_pd(s + 4 * j);
  }
#undef LOOPHOLE_LANES
  for (uint32_t k = 0, i = from; k < chunks; ++k, i += 4) {
    __m256d f[2][4];
    for (size_t j = 0; j < 2; ++j) {
      for (size_t q = 0; q < 4; ++q)
        f[j][q] = _mm256_loadu_pd(db[4 * j + q] + i);
      transpose4(f[j]);
    }
    for (size_t p = 0; p < 4; p += 2) // both halves' chains side by side
      for (size_t j = 0; j < 2; ++j) {
        const __m256d t0 = f[j][p], t1 = f[j][p + 1];
        f[j][p] = one4<use_min>(h[j], state[j], t0);
        state[j] = two4<use_min>(h[j], state[j], t0, t1);
        f[j][p + 1] = state[j];
      }
    for (size_t j = 0; j < 2; ++j) {
      transpose4(f[j]);
      for (size_t q = 0; q < 4; ++q)
        _mm256_storeu_pd(db[4 * j + q] + i, f[j][q]);
    }
  }
  for (size_t j = 0; j < 2; ++j)
    _mm256_storeu_pd(s + 4 * j, state[j]);
}
#endif

// -- the compressor and the gate ------------------------------------------------------

enum class dynamics_mode : uint8_t { compressor, gate };

double pole(double frames) noexcept { return frames > 0.0 ? std::exp(-1.0 / frames) : 0.0; }

// Feed-forward compressor and downward expander / gate. Per block:
//   1. the detector's power per frame: x^2 (peak) or the mean of x^2 over the
//      last rms_frames frames (rms), per detector lane; linked, the largest
//      lane's;
//   2. its level in dB (fast::power_to_db);
//   3. the static curve: the target gain change in dB;
//   4. one-pole smoothing of that change in dB (attack, release; the gate
//      holds its gain for hold_frames before releasing);
//   5. the gain, with makeup (fast::db_to_gain), and the dry share of `mix`;
//   6. applied to the input delayed by lookahead_frames.
// Detector lanes: one per channel of the node. Without a sidechain, lane c
// reads input channel c; with a sidechain of the node's channel count, its
// channel c; with a sidechain of another count, every lane reads the largest
// x^2 among the sidechain's channels. Unlinked, channel c follows lane c.
// The rms running sum is recomputed from its window whenever the window
// wraps, so rounding never accumulates, at the same frames whatever the blocks.
template <class Sample>
class dynamics_node final : public basic_node_processor<Sample> {
public:
  using view = basic_audio_view<Sample>;

  dynamics_node(const render_node& node, dynamics_mode mode)
    : mode_(mode),
      channels_(node.channels),
      lookahead_(static_cast<uint32_t>(param_or(node, "lookahead_frames", 0.0))),
      linked_(mode == dynamics_mode::gate || param_or(node, "link", 1.0) != 0.0),
      rms_(mode == dynamics_mode::compressor && param_or(node, "detector", 0.0) == 1.0),
      rms_frames_(rms_ ? std::max<uint32_t>(1, static_cast<uint32_t>(param_or(node, "rms_frames", 1.0)))
                       : 0),
      attack_(pole(param_or(node, "attack_frames", 0.0))),
      release_(pole(param_or(node, "release_frames", 0.0))),
      hold_frames_(static_cast<uint32_t>(param_or(node, "hold_frames", 0.0))) {
    if (mode == dynamics_mode::compressor) {
      threshold_ = streams_.add(node, "threshold_db", param_or(node, "threshold_db", -24.0));
      ratio_ = streams_.add(node, "ratio", param_or(node, "ratio", 4.0));
      knee_ = streams_.add(node, "knee_db", param_or(node, "knee_db", 0.0));
      makeup_ = streams_.add(node, "makeup_db", param_or(node, "makeup_db", 0.0));
      mix_ = streams_.add(node, "mix", param_or(node, "mix", 1.0));
    } else {
      threshold_ = streams_.add(node, "threshold_db", param_or(node, "threshold_db", -60.0));
      ratio_ = streams_.add(node, "ratio", param_or(node, "ratio", 1000.0));
      knee_ = streams_.add(node, "range_db", param_or(node, "range_db", -144.0));
    }
  }

  // A constant fader and pan after the node are multiplied into its own
  // output pass (the executor then drops them): one pass over the audio
  // instead of three. Only per-channel gains of the same channels fold.
  bool fold_output_gain(uint16_t channels, const channel_map& source,
                        const channel_gains& gain) override {
    if (channels != channels_)
      return false;
    for (uint16_t c = 0; c < channels; ++c)
      if (source[c] != c)
        return false;
    for (uint16_t c = 0; c < channels; ++c)
      folded_[c] *= gain[c];
    return true;
  }

  static uint64_t state_bytes_of(const render_node& node, dynamics_mode mode) noexcept {
    // the lookahead ring holds samples
    const uint64_t channels = node.channels;
    const bool linked = mode == dynamics_mode::gate || param_or(node, "link", 1.0) != 0.0;
    const bool rms = mode == dynamics_mode::compressor && param_or(node, "detector", 0.0) == 1.0;
    const uint64_t rms_frames =
      rms ? std::max<uint64_t>(1, static_cast<uint64_t>(param_or(node, "rms_frames", 1.0))) : 0;
    const uint64_t lookahead = static_cast<uint64_t>(param_or(node, "lookahead_frames", 0.0));
    const uint64_t groups = linked ? 1 : channels;
    return modulation_state_bytes(node) + groups * (2 * sizeof(double) + sizeof(uint32_t)) +
           2 * sizeof(uint32_t) + (rms ? channels * (rms_frames + 1) * sizeof(double) : 0) +
           channels * lookahead * sizeof(Sample);
  }

  void prepare(uint32_t max_block) override {
    streams_.prepare(max_block);
    const size_t groups = linked_ ? 1 : channels_;
    smoothed_.assign(groups, 0.0);
    pending_target_.assign(groups, 0.0);
    hold_.assign(groups, 0);
    if (rms_) {
      window_.assign(size_t{channels_} * rms_frames_, 0.0);
      sums_.assign(channels_, 0.0);
      lane_power_.assign(size_t{channels_} * max_block, 0.0);
    }
    window_pos_ = 0;
    delay_.assign(size_t{channels_} * lookahead_, Sample{});
    delay_pos_ = 0;
    power_.assign(max_block, 0.0);
    gain_.assign(max_block, 0.0);
    delayed_.assign(2 * size_t{max_block}, Sample{});
    max_block_ = max_block;
  }

  // A compressor of constant parameters and linked channels is, apart from
  // its one serial smoother, block loops over its own channels: compressors
  // of that shape share a cohort, whose smoothers run in the lanes of
  // smooth_lanes_avx2 (process_cohort_rt) and whose other steps run member
  // by member as process_rt runs them.
  bool plain_compressor() const noexcept {
    return mode_ == dynamics_mode::compressor && linked_ && channels_ <= 2 &&
           !streams_.any_varies();
  }

  uint64_t cohort_key() const noexcept override {
    if (!plain_compressor())
      return 0;
    const bool use_min = smoother_.a <= smoother_.r;
    return cohort_key_of(node_kind::compressor, uint64_t{channels_} | uint64_t{use_min} << 8);
  }

  void process_cohort_rt(const process_context& ctx,
                         std::span<basic_node_processor<Sample>* const> members,
                         std::span<const std::span<const view>> inputs,
                         std::span<const view> outputs) noexcept override {
    const denormal_guard guard;
    const uint32_t n = ctx.frames;
    auto member = [&](size_t m) -> dynamics_node& { return *static_cast<dynamics_node*>(members[m]); };
    // Pairs count from each node's first frame: members that processed as
    // many frames are in step. Any other mix runs member by member.
    for (size_t m = 1; m < members.size(); ++m)
      if (member(m).hold_[0] != hold_[0])
        return basic_node_processor<Sample>::process_cohort_rt(ctx, members, inputs, outputs);
    for (size_t m = 0; m < members.size(); ++m)
      member(m).plain_targets(inputs[m], n);
#ifdef LOOPHOLE_HAVE_AVX2_LANES
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      for (size_t first = 0; first < members.size(); first += 8)
        smooth_together(members.subspan(first, std::min<size_t>(8, members.size() - first)), n);
    } else
#endif
      for (size_t m = 0; m < members.size(); ++m)
        member(m).plain_smooth(n);
    for (size_t m = 0; m < members.size(); ++m)
      member(m).plain_apply(inputs[m][0], outputs[m], n);
  }

  void process_rt(const process_context& ctx, std::span<const view> inputs,
                  const view& out) noexcept override {
    const denormal_guard guard;
    const uint32_t n = ctx.frames;
    const auto& in = inputs[0];
    if (plain_compressor()) {
      plain_targets(inputs, n);
      plain_smooth(n);
      plain_apply(in, out, n);
      return;
    }
    const auto& key = inputs.size() > 1 ? inputs[1] : inputs[0];
    const double* threshold = fill(threshold_, ctx, in);
    const double* ratio = fill(ratio_, ctx, in);
    const double* knee = fill(knee_, ctx, in);
    const double* makeup = mode_ == dynamics_mode::compressor ? fill(makeup_, ctx, in) : nullptr;
    const double* mix = mode_ == dynamics_mode::compressor ? fill(mix_, ctx, in) : nullptr;

    if (rms_)
      update_rms(key, n);
    const uint32_t start_pos = delay_pos_;
    const uint16_t groups = linked_ ? 1 : channels_;
    for (uint16_t g = 0; g < groups; ++g) {
      detect(key, g, n);
      double* db = power_.data();
      const bool constant_curve = !threshold && !ratio && !knee;
      if (mode_ != dynamics_mode::compressor || !constant_curve)
        to_db(power_.data(), db, n);
      if (mode_ == dynamics_mode::compressor) {
        if (constant_curve)
          power_to_compressor_target(db, n, streams_[threshold_].constant(),
                                     1.0 / clamp_ratio(streams_[ratio_].constant()) - 1.0,
                                     std::max(0.0, streams_[knee_].constant()));
        else
          for (uint32_t i = 0; i < n; ++i)
            db[i] = compressor_curve_db(db[i], value(threshold, threshold_, i),
                                        clamp_ratio(value(ratio, ratio_, i)),
                                        std::max(0.0, value(knee, knee_, i)));
        bool pending = hold_[g] != 0;
        if (smoother_.a <= smoother_.r)
          smoother_.run<true>(db, n, smoothed_[g], pending, pending_target_[g]);
        else
          smoother_.run<false>(db, n, smoothed_[g], pending, pending_target_[g]);
        hold_[g] = pending ? 1u : 0u;
        const uint16_t first = linked_ ? 0 : g, count = linked_ ? channels_ : 1;
        if (!makeup && !mix && count <= 2) {
          const Sample* x0 = delay(in[first], first, start_pos, n);
          const Sample* x1 =
            count == 2 ? delay(in[first + 1], first + 1, start_pos, n, 1) : nullptr;
          gain_and_apply(db, streams_[makeup_].constant(),
                         std::clamp(streams_[mix_].constant(), 0.0, 1.0), x0, x1, out[first],
                         count == 2 ? out[first + 1] : nullptr, folded_[first],
                         count == 2 ? folded_[first + 1] : 1.0, n);
          continue;
        }
        to_gain(db, makeup, makeup ? 0.0 : streams_[makeup_].constant(), gain_.data(), n);
        const double mix_constant = streams_[mix_].constant();
        if (mix || mix_constant != 1.0)
          blend_dry(gain_.data(), mix, std::clamp(mix_constant, 0.0, 1.0), n);
      } else {
        if (!threshold && !ratio && !knee)
          gate_curve(db, n, streams_[threshold_].constant(),
                     std::max(1.0, streams_[ratio_].constant()),
                     std::min(0.0, streams_[knee_].constant()));
        else
          for (uint32_t i = 0; i < n; ++i)
            db[i] = gate_curve_db(db[i], value(threshold, threshold_, i),
                                  std::max(1.0, value(ratio, ratio_, i)),
                                  std::min(0.0, value(knee, knee_, i)));
        smooth_gate(db, n, g);
        to_gain(db, nullptr, 0.0, gain_.data(), n);
      }
      const uint16_t first = linked_ ? 0 : g, last = linked_ ? channels_ : g + 1;
      for (uint16_t c = first; c < last; ++c) {
        const Sample* x = delay(in[c], c, start_pos, n);
        apply_gain(x, gain_.data(), folded_[c], out[c], n);
      }
    }
    if (lookahead_ > 0)
      delay_pos_ = (start_pos + n) % lookahead_;
  }

  std::vector<std::byte> snapshot() const override {
    state_writer w(streams_.state_bytes() + 64 + window_.size() * sizeof(double) +
                   delay_.size() * sizeof(Sample));
    w.put_streams(streams_);
    w.put_all(std::span<const double>(smoothed_));
    w.put_all(std::span<const double>(pending_target_));
    w.put_all(std::span<const uint32_t>(hold_));
    w.put(window_pos_);
    w.put(delay_pos_);
    if (rms_) {
      w.put_all(std::span<const double>(sums_));
      w.put_all(std::span<const double>(window_));
    }
    w.put_all(std::span<const Sample>(delay_));
    return w.take();
  }

  bool restore(std::span<const std::byte> state) override {
    const size_t expected = streams_.state_bytes() + 2 * smoothed_.size() * sizeof(double) +
                            hold_.size() * sizeof(uint32_t) + 2 * sizeof(uint32_t) +
                            (rms_ ? (sums_.size() + window_.size()) * sizeof(double) : 0) +
                            delay_.size() * sizeof(Sample);
    if (state.size() != expected)
      return false;
    state_reader r(state);
    auto smoothed = smoothed_;
    auto pending_target = pending_target_;
    auto hold = hold_;
    auto sums = sums_;
    auto window = window_;
    auto delay = delay_;
    uint32_t window_pos = 0, delay_pos = 0;
    if (!r.get_streams(streams_) || !r.get_all(std::span<double>(smoothed)) ||
        !r.get_all(std::span<double>(pending_target)) ||
        !r.get_all(std::span<uint32_t>(hold)) || !r.get(window_pos) || !r.get(delay_pos))
      return false;
    if (rms_ && (!r.get_all(std::span<double>(sums)) || !r.get_all(std::span<double>(window))))
      return false;
    if (!r.get_all(std::span<Sample>(delay)) || !r.complete())
      return false;
    if ((rms_ ? window_pos >= rms_frames_ : window_pos != 0) ||
        (lookahead_ > 0 ? delay_pos >= lookahead_ : delay_pos != 0))
      return false;
    smoothed_ = std::move(smoothed), hold_ = std::move(hold), sums_ = std::move(sums);
    pending_target_ = std::move(pending_target);
    window_ = std::move(window), delay_ = std::move(delay);
    window_pos_ = window_pos, delay_pos_ = delay_pos;
    return true;
  }

private:
  static double clamp_ratio(double r) noexcept { return std::max(1.0, r); }

  const double* fill(size_t index, const process_context& ctx, const view& in) noexcept {
    auto& s = streams_[index];
    return s.varies() ? s.fill(ctx.timeline_frame, ctx.frames, in) : nullptr;
  }
  double value(const double* values, size_t index, uint32_t i) const noexcept {
    return values ? values[i] : streams_[index].constant();
  }

  // The plain compressor's steps: the target gain change of each frame into
  // power_ (the detector's power, then the static curve); its smoothing; the
  // gain applied to the delayed input.
  void plain_targets(std::span<const view> inputs, uint32_t n) noexcept {
    const auto& key = inputs.size() > 1 ? inputs[1] : inputs[0];
    if (rms_)
      update_rms(key, n);
    detect(key, 0, n);
    power_to_compressor_target(power_.data(), n, streams_[threshold_].constant(),
                               1.0 / clamp_ratio(streams_[ratio_].constant()) - 1.0,
                               std::max(0.0, streams_[knee_].constant()));
  }

  void plain_smooth(uint32_t n) noexcept {
    bool pending = hold_[0] != 0;
    if (smoother_.a <= smoother_.r)
      smoother_.run<true>(power_.data(), n, smoothed_[0], pending, pending_target_[0]);
    else
      smoother_.run<false>(power_.data(), n, smoothed_[0], pending, pending_target_[0]);
    hold_[0] = pending ? 1u : 0u;
  }

  void plain_apply(const view& in, const view& out, uint32_t n) noexcept {
    const uint32_t start_pos = delay_pos_;
    const bool two = channels_ == 2;
    const Sample* x0 = delay(in[0], 0, start_pos, n);
    const Sample* x1 = two ? delay(in[1], 1, start_pos, n, 1) : nullptr;
    gain_and_apply(power_.data(), streams_[makeup_].constant(),
                   std::clamp(streams_[mix_].constant(), 0.0, 1.0), x0, x1, out[0],
                   two ? out[1] : nullptr, folded_[0], two ? folded_[1] : 1.0, n);
    if (lookahead_ > 0)
      delay_pos_ = (start_pos + n) % lookahead_;
  }

#ifdef LOOPHOLE_HAVE_AVX2_LANES
  // The smoothers of up to eight plain compressors in step, as each one's
  // plain_smooth: a pending pair closed frame by frame, the whole chunks of
  // four frames in the lanes, then the pairs and the odd frame left.
  static void smooth_together(std::span<basic_node_processor<Sample>* const> members,
                              uint32_t n) noexcept {
    std::array<dynamics_node*, 8> m;
    for (size_t l = 0; l < 8; ++l) // short groups repeat their first member
      m[l] = static_cast<dynamics_node*>(members[l < members.size() ? l : 0]);
    const bool use_min = m[0]->smoother_.a <= m[0]->smoother_.r;
    bool pending = m[0]->hold_[0] != 0;
    uint32_t i = 0;
    if (pending && n > 0) {
      for (size_t l = 0; l < members.size(); ++l) {
        auto& d = *m[l];
        auto& s = d.smoothed_[0];
        s = use_min ? d.smoother_.template two<true>(s, d.pending_target_[0], d.power_[0])
                    : d.smoother_.template two<false>(s, d.pending_target_[0], d.power_[0]);
        d.power_[0] = s;
      }
      pending = false;
      i = 1;
    }
    const uint32_t chunks = (n - i) / 4;
    if (chunks > 0) {
      std::array<const pair_smoother*, 8> c;
      std::array<double*, 8> db;
      std::array<double, 8> s;
      for (size_t l = 0; l < 8; ++l)
        c[l] = &m[l]->smoother_, db[l] = m[l]->power_.data(), s[l] = m[l]->smoothed_[0];
      if (use_min)
        smooth_lanes_avx2<true>(c.data(), db.data(), s.data(), i, chunks);
      else
        smooth_lanes_avx2<false>(c.data(), db.data(), s.data(), i, chunks);
      for (size_t l = 0; l < members.size(); ++l)
        m[l]->smoothed_[0] = s[l];
      i += 4 * chunks;
    }
    for (size_t l = 0; l < members.size(); ++l) {
      auto& d = *m[l];
      bool p = pending;
      if (use_min)
        d.smoother_.template run<true>(d.power_.data() + i, n - i, d.smoothed_[0], p,
                                       d.pending_target_[0]);
      else
        d.smoother_.template run<false>(d.power_.data() + i, n - i, d.smoothed_[0], p,
                                        d.pending_target_[0]);
      d.hold_[0] = p ? 1u : 0u;
    }
  }
#endif

  // The detector's power for group g into power_.
  void detect(const view& key, uint16_t g, uint32_t n) noexcept {
    const uint16_t first = linked_ ? 0 : g, last = linked_ ? channels_ : g + 1;
    if (rms_) {
      for (uint16_t lane = first; lane < last; ++lane) {
        const double* p = lane_power_.data() + size_t{lane} * n;
        if (lane == first)
          std::copy_n(p, n, power_.data());
        else
          for (uint32_t i = 0; i < n; ++i)
            power_[i] = std::max(power_[i], p[i]);
      }
      return;
    }
    if (key.channels == channels_) {
      for (uint16_t lane = first; lane < last; ++lane)
        max_power(key[lane], power_.data(), n, lane == first);
    } else {
      for (uint16_t c = 0; c < key.channels; ++c)
        max_power(key[c], power_.data(), n, c == 0);
    }
  }

  // Advances every lane's rms window over the block; lane_power_ gets the
  // mean square of each frame.
  void update_rms(const view& key, uint32_t n) noexcept {
    const double inv = 1.0 / static_cast<double>(rms_frames_);
    const bool own = key.channels == channels_;
    if (!own) // every lane reads the loudest sidechain channel
      for (uint16_t c = 0; c < key.channels; ++c)
        max_power(key[c], power_.data(), n, c == 0);
    uint32_t pos = window_pos_;
    for (uint16_t lane = 0; lane < channels_; ++lane) {
      double* window = window_.data() + size_t{lane} * rms_frames_;
      double* out = lane_power_.data() + size_t{lane} * n;
      double sum = sums_[lane];
      pos = window_pos_;
      for (uint32_t i = 0; i < n; ++i) {
        double p;
        if (own) {
          const double v = static_cast<double>(key[lane][i]);
          p = v * v;
        } else {
          p = power_[i];
        }
        sum += p - window[pos];
        window[pos] = p;
        if (++pos == rms_frames_) {
          pos = 0;
          sum = 0.0;
          for (uint32_t k = 0; k < rms_frames_; ++k)
            sum += window[k];
        }
        out[i] = std::max(0.0, sum) * inv;
      }
      sums_[lane] = sum;
    }
    window_pos_ = pos;
  }

  // Attack while opening (t >= s, which also rearms the hold), hold, then
  // release while closing; branch-free like the compressor's smoother.
  void smooth_gate(double* db, uint32_t n, uint16_t g) noexcept {
    double s = smoothed_[g];
    double hold = static_cast<double>(hold_[g]);
    const double hold_frames = static_cast<double>(hold_frames_);
    const double attack_in = 1.0 - attack_, release_in = 1.0 - release_;
    for (uint32_t i = 0; i < n; ++i) {
      const double t = db[i];
      const double opening = attack_ * s + attack_in * t;
      const double closing = select_less(0.0, hold, s, release_ * s + release_in * t);
      const double next_hold = select_less(0.0, hold, hold - 1.0, 0.0);
      hold = select_less(t, s, next_hold, hold_frames);
      s = select_less(t, s, closing, opening);
      db[i] = s;
    }
    smoothed_[g] = s;
    hold_[g] = static_cast<uint32_t>(hold);
  }

  // Channel c of the input, lookahead_ frames late, for the block starting at
  // ring position `start` (every channel's ring shares the position).
  const Sample* delay(const Sample* x, uint16_t c, uint32_t start, uint32_t n,
                      size_t scratch = 0) noexcept {
    if (lookahead_ == 0)
      return x;
    Sample* d = delayed_.data() + scratch * max_block_;
    delay_through_ring(x, delay_.data() + size_t{c} * lookahead_, lookahead_, start, n, d);
    return d;
  }

  dynamics_mode mode_;
  uint16_t channels_;
  uint32_t lookahead_;
  bool linked_, rms_;
  uint32_t rms_frames_;
  double attack_, release_;
  uint32_t hold_frames_;
  stream_set streams_;
  size_t threshold_ = 0, ratio_ = 0, knee_ = 0, makeup_ = 0, mix_ = 0;
  channel_gains folded_ = unity_gains(); ///< per channel: the fader and pan folded in
  std::vector<double> smoothed_; ///< per group: the smoothed gain change, dB
  std::vector<uint32_t> hold_;   ///< per group: gate hold frames left; compressor: in a pair
  std::vector<double> pending_target_; ///< per group: compressor: the target of a pair's first frame
  pair_smoother smoother_{attack_, release_};
  std::vector<double> window_, sums_, lane_power_;
  uint32_t window_pos_ = 0;
  std::vector<Sample> delay_;
  uint32_t delay_pos_ = 0;
  std::vector<double> power_, gain_;
  std::vector<Sample> delayed_; ///< two channels of the delayed input
  uint32_t max_block_ = 0;
};

} // namespace

template <class Sample>
std::unique_ptr<basic_node_processor<Sample>> make_dynamics(const render_graph& graph,
                                                            const render_node& node) {
  switch (node.kind) {
    case node_kind::compressor:
      return std::make_unique<dynamics_node<Sample>>(node, dynamics_mode::compressor);
    case node_kind::gate:
      return std::make_unique<dynamics_node<Sample>>(node, dynamics_mode::gate);
    case node_kind::limiter:
      return make_limiter<Sample>(graph, node);
    default:
      return nullptr;
  }
}

template std::unique_ptr<node_processor> make_dynamics<float>(const render_graph&,
                                                              const render_node&);
template std::unique_ptr<node_processor_f64> make_dynamics<double>(const render_graph&,
                                                                   const render_node&);

uint64_t dynamics_state_bytes(const render_node& node, sample_precision precision) noexcept {
  const bool f64 = precision == sample_precision::float64;
  switch (node.kind) {
    case node_kind::compressor:
    case node_kind::gate: {
      const auto mode =
        node.kind == node_kind::gate ? dynamics_mode::gate : dynamics_mode::compressor;
      return f64 ? dynamics_node<double>::state_bytes_of(node, mode)
                 : dynamics_node<float>::state_bytes_of(node, mode);
    }
    case node_kind::limiter:
      return limiter_state_bytes(node, precision);
    default:
      return 0;
  }
}

} // namespace loophole::signal
