#include <algorithm>
#include <array>
#include <cmath>

#include "signal/dynamics.hpp"
#include "signal/node_state.hpp"

namespace loophole::signal {

namespace {

// ITU-R BS.1770-4 annex 2: the 48-tap interpolating FIR for 4x oversampled
// true-peak measurement, as four 12-tap phases (phases 2 and 3 are phases 1
// and 0 reversed).
constexpr std::array<std::array<double, 12>, 2> bs1770_phases{{
  {0.0017089843750, 0.0109863281250, -0.0196533203125, 0.0332031250000, -0.0594482421875,
   0.1373291015625, 0.9721679687500, -0.1022949218750, 0.0476074218750, -0.0266113281250,
   0.0148925781250, -0.0083007812500},
  {-0.0291748046875, 0.0292968750000, -0.0517578125000, 0.0891113281250, -0.1665039062500,
   0.4650878906250, 0.7797851562500, -0.2003173828125, 0.1015625000000, -0.0582275390625,
   0.0330810546875, -0.0189208984375},
}};
constexpr uint32_t fir_taps = 12;
/// The four interpolated points computed with input frame n lie between
/// frames n - 6 and n - 5: the detector knows the true peak around frame m
/// at frame m + 6.
constexpr uint32_t true_peak_delay = 6;
/// In true-peak mode the gain is held low over this many frames either side
/// of a peak, so that every sample the interpolator mixes into the peak is
/// scaled by a gain no higher than the peak's.
constexpr uint32_t true_peak_spread = 6;
/// The gain aims this far under the ceiling, so that the rounding of the
/// running sums and of the output's rounding cannot reach it.
constexpr double ceiling_margin = 0.9999;

struct limiter_shape {
  uint32_t lookahead, window, latency;
  bool true_peak, linked;
};

limiter_shape shape_of(const render_node& node) noexcept {
  const auto lookahead = static_cast<uint32_t>(param_or(node, "lookahead_frames", 0.0));
  const bool true_peak = param_or(node, "true_peak", 0.0) != 0.0;
  const uint32_t spread = true_peak ? true_peak_spread : 0;
  return {lookahead, lookahead + 2 * spread + 1,
          lookahead + (true_peak ? true_peak_delay + spread : 0), true_peak,
          param_or(node, "link", 1.0) != 0.0};
}

// Lookahead brick-wall limiter. At detector frame n (the newest input):
//   level  |x| of the newest frame, or (true_peak) the largest of |x| and the
//          BS.1770 4x interpolated points either side of frame n - 6;
//   r[n]   min(1, ceiling' / level), ceiling' = ceiling x 0.9999;
//   h[n]   min of r over the last `window` frames (a monotonic deque in a
//          ring preallocated in prepare: O(1) amortised);
//   e[n]   h[n] if h[n] < e[n-1] (instant), else h + c (e[n-1] - h) with
//          c = exp(-1/release_frames) (exponential release);
//   G[n]   the mean of e over the last lookahead + 1 frames (the attack: a
//          straight fade across the lookahead);
//   y      x delayed by `latency` frames, times G[n], clamped to the ceiling.
// Every e in the mean is at most the r of the frame leaving the delay line
// (it is inside each of their windows), so the output stays under the
// ceiling; the clamp only catches the last rounding. latency = lookahead
// (+ 12 in true-peak mode: 6 for the interpolator to see the peak, 6 to hold
// the gain over the samples that form it).
template <class Sample>
class limiter_node final : public basic_node_processor<Sample> {
public:
  using view = basic_audio_view<Sample>;

  explicit limiter_node(const render_node& node)
    : shape_(shape_of(node)),
      channels_(node.channels),
      release_(param_or(node, "release_frames", 0.0) > 0.0
                 ? std::exp(-1.0 / param_or(node, "release_frames", 0.0))
                 : 0.0) {
    ceiling_ = streams_.add(node, "ceiling_db", param_or(node, "ceiling_db", -1.0));
  }

  static uint64_t state_bytes_of(const render_node& node) noexcept {
    const auto sh = shape_of(node);
    const uint64_t groups = sh.linked ? 1 : node.channels;
    return modulation_state_bytes(node) + sizeof(uint64_t) + 2 * sizeof(uint32_t) +
           groups * (2 * sizeof(uint32_t) + 2 * sizeof(double) +
                     uint64_t{sh.window} * (sizeof(uint64_t) + sizeof(double)) +
                     (uint64_t{sh.lookahead} + 1) * sizeof(double)) +
           uint64_t{node.channels} *
             (uint64_t{sh.latency} * sizeof(Sample) +
              (sh.true_peak ? (fir_taps - 1) * sizeof(Sample) + sizeof(double) : 0));
  }

  void prepare(uint32_t max_block) override {
    streams_.prepare(max_block);
    const size_t groups = shape_.linked ? 1 : channels_;
    groups_.assign(groups, group{});
    for (auto& g : groups_) {
      g.deque_frame.assign(shape_.window, 0);
      g.deque_value.assign(shape_.window, 1.0);
      g.box.assign(shape_.lookahead + 1, 1.0);
      g.box_sum = static_cast<double>(shape_.lookahead + 1);
    }
    frame_ = 0;
    box_pos_ = 0;
    audio_.assign(size_t{channels_} * shape_.latency, Sample{});
    audio_pos_ = 0;
    if (shape_.true_peak) {
      history_.assign(size_t{channels_} * (fir_taps - 1), Sample{});
      last_interval_.assign(channels_, 0.0);
      scratch_.assign(max_block + fir_taps - 1, Sample{});
    }
    level_.assign(max_block, 0.0);
    channel_level_.assign(max_block, 0.0);
    gain_.assign(max_block, 0.0);
    ceiling_values_.assign(max_block, 0.0);
    delayed_.assign(max_block, Sample{});
  }

  void process_rt(const process_context& ctx, std::span<const view> inputs,
                  const view& out) noexcept override {
    const denormal_guard guard;
    const uint32_t n = ctx.frames;
    const auto& in = inputs[0];
    auto& ceiling = streams_[ceiling_];
    if (ceiling.varies()) {
      const double* db = ceiling.fill(ctx.timeline_frame, n, in);
      for (uint32_t i = 0; i < n; ++i)
        ceiling_values_[i] = std::pow(10.0, std::min(db[i], 0.0) / 20.0);
    } else {
      std::fill_n(ceiling_values_.data(), n, std::pow(10.0, std::min(ceiling.constant(), 0.0) / 20.0));
    }
    // Levels first (the true-peak history advances once per channel), then
    // the gain of each group, then the delayed audio.
    const uint32_t box_start = box_pos_;
    const uint64_t frame_start = frame_;
    const uint32_t audio_start = audio_pos_;
    for (size_t g = 0; g < groups_.size(); ++g) {
      const uint16_t first = shape_.linked ? 0 : static_cast<uint16_t>(g);
      const uint16_t last = shape_.linked ? channels_ : static_cast<uint16_t>(g + 1);
      for (uint16_t c = first; c < last; ++c) {
        measure(in[c], c, n);
        if (c == first)
          std::copy_n(channel_level_.data(), n, level_.data());
        else
          for (uint32_t i = 0; i < n; ++i)
            level_[i] = std::max(level_[i], channel_level_[i]);
      }
      box_pos_ = box_start;
      frame_ = frame_start;
      compute_gain(groups_[g], n);
      for (uint16_t c = first; c < last; ++c) {
        const Sample* d = delay(in[c], c, audio_start, n);
        Sample* y = out[c];
        for (uint32_t i = 0; i < n; ++i) {
          const double v = static_cast<double>(d[i]) * gain_[i];
          const double limit = ceiling_values_[i];
          y[i] = static_cast<Sample>(std::clamp(v, -limit, limit));
        }
      }
    }
    if (shape_.latency > 0)
      audio_pos_ = (audio_start + n) % shape_.latency;
  }

  std::vector<std::byte> snapshot() const override {
    state_writer w(state_size());
    w.put_streams(streams_);
    w.put(frame_);
    w.put(box_pos_);
    w.put(audio_pos_);
    for (const auto& g : groups_) {
      w.put(g.head);
      w.put(g.count);
      w.put(g.release);
      w.put(g.box_sum);
      w.put_all(std::span<const uint64_t>(g.deque_frame));
      w.put_all(std::span<const double>(g.deque_value));
      w.put_all(std::span<const double>(g.box));
    }
    w.put_all(std::span<const Sample>(audio_));
    if (shape_.true_peak) {
      w.put_all(std::span<const Sample>(history_));
      w.put_all(std::span<const double>(last_interval_));
    }
    return w.take();
  }

  bool restore(std::span<const std::byte> state) override {
    if (state.size() != state_size())
      return false;
    state_reader r(state);
    uint64_t frame = 0;
    uint32_t box_pos = 0, audio_pos = 0;
    auto groups = groups_;
    auto audio = audio_;
    auto history = history_;
    auto last_interval = last_interval_;
    if (!r.get_streams(streams_) || !r.get(frame) || !r.get(box_pos) || !r.get(audio_pos))
      return false;
    for (auto& g : groups) {
      if (!r.get(g.head) || !r.get(g.count) || !r.get(g.release) || !r.get(g.box_sum) ||
          !r.get_all(std::span<uint64_t>(g.deque_frame)) ||
          !r.get_all(std::span<double>(g.deque_value)) || !r.get_all(std::span<double>(g.box)))
        return false;
      if (g.head >= shape_.window || g.count > shape_.window)
        return false;
    }
    if (!r.get_all(std::span<Sample>(audio)))
      return false;
    if (shape_.true_peak &&
        (!r.get_all(std::span<Sample>(history)) || !r.get_all(std::span<double>(last_interval))))
      return false;
    if (!r.complete() || box_pos > shape_.lookahead ||
        (shape_.latency > 0 ? audio_pos >= shape_.latency : audio_pos != 0))
      return false;
    frame_ = frame, box_pos_ = box_pos, audio_pos_ = audio_pos;
    groups_ = std::move(groups), audio_ = std::move(audio), history_ = std::move(history);
    last_interval_ = std::move(last_interval);
    return true;
  }

private:
  struct group {
    std::vector<uint64_t> deque_frame; ///< ring: frames of the deque's entries
    std::vector<double> deque_value;   ///< ring: their r, increasing from the front
    uint32_t head = 0, count = 0;
    double release = 1.0;              ///< e of the last frame
    std::vector<double> box;           ///< the last lookahead + 1 values of e
    double box_sum = 0.0;
  };

  size_t state_size() const noexcept {
    size_t n = streams_.state_bytes() + sizeof frame_ + sizeof box_pos_ + sizeof audio_pos_;
    for (const auto& g : groups_)
      n += sizeof g.head + sizeof g.count + sizeof g.release + sizeof g.box_sum +
           g.deque_frame.size() * sizeof(uint64_t) + g.deque_value.size() * sizeof(double) +
           g.box.size() * sizeof(double);
    return n + audio_.size() * sizeof(Sample) + history_.size() * sizeof(Sample) +
           last_interval_.size() * sizeof(double);
  }

  // channel_level_[i]: the level the detector assigns at frame i of the block.
  void measure(const Sample* x, uint16_t c, uint32_t n) noexcept {
    if (!shape_.true_peak) {
      for (uint32_t i = 0; i < n; ++i)
        channel_level_[i] = std::abs(static_cast<double>(x[i]));
      return;
    }
    // scratch_ = the last 11 input samples, then the block.
    Sample* hist = history_.data() + size_t{c} * (fir_taps - 1);
    std::copy_n(hist, fir_taps - 1, scratch_.data());
    std::copy_n(x, n, scratch_.data() + fir_taps - 1);
    double previous = last_interval_[c];
    for (uint32_t i = 0; i < n; ++i) {
      // scratch_[i + 11] is frame n; tap j reads frame n - j.
      const Sample* s = scratch_.data() + i + fir_taps - 1;
      double p0 = 0, p1 = 0, p2 = 0, p3 = 0;
      for (uint32_t j = 0; j < fir_taps; ++j) {
        const double v = static_cast<double>(*(s - j));
        p0 += bs1770_phases[0][j] * v;
        p1 += bs1770_phases[1][j] * v;
        p2 += bs1770_phases[1][fir_taps - 1 - j] * v;
        p3 += bs1770_phases[0][fir_taps - 1 - j] * v;
      }
      const double interval =
        std::max(std::max(std::abs(p0), std::abs(p1)), std::max(std::abs(p2), std::abs(p3)));
      const double sample = std::abs(static_cast<double>(*(s - true_peak_delay)));
      channel_level_[i] = std::max(sample, std::max(interval, previous));
      previous = interval;
    }
    last_interval_[c] = previous;
    std::copy_n(scratch_.data() + n, fir_taps - 1, hist);
  }

  // From level_ to gain_ for one group: requirement, sliding minimum,
  // release, box average. Serial, one frame at a time.
  void compute_gain(group& g, uint32_t n) noexcept {
    const uint32_t window = shape_.window;
    const uint32_t box_len = shape_.lookahead + 1;
    const double inv_box = 1.0 / static_cast<double>(box_len);
    uint32_t box_pos = box_pos_;
    uint64_t frame = frame_;
    double e = g.release;
    double sum = g.box_sum;
    for (uint32_t i = 0; i < n; ++i, ++frame) {
      const double limit = ceiling_values_[i] * ceiling_margin;
      const double r = level_[i] > limit ? limit / level_[i] : 1.0;
      // Monotonic deque: drop the front once it leaves the window (first, so
      // that the ring never holds more than `window` entries), drop entries
      // no smaller than r, append r.
      if (g.count > 0 && frame - g.deque_frame[g.head] >= window) {
        g.head = (g.head + 1) % window;
        --g.count;
      }
      while (g.count > 0) {
        const uint32_t back = (g.head + g.count - 1) % window;
        if (g.deque_value[back] < r)
          break;
        --g.count;
      }
      const uint32_t slot = (g.head + g.count) % window;
      g.deque_frame[slot] = frame;
      g.deque_value[slot] = r;
      ++g.count;
      const double h = g.deque_value[g.head];
      e = h < e ? h : h + release_ * (e - h);
      e = std::min(e, h);
      sum += e - g.box[box_pos];
      g.box[box_pos] = e;
      if (++box_pos == box_len) {
        box_pos = 0;
        sum = 0.0;
        for (double v : g.box)
          sum += v;
      }
      gain_[i] = sum * inv_box;
    }
    g.release = e;
    g.box_sum = sum;
    box_pos_ = box_pos;
    frame_ = frame;
  }

  const Sample* delay(const Sample* x, uint16_t c, uint32_t start, uint32_t n) noexcept {
    const uint32_t len = shape_.latency;
    if (len == 0)
      return x;
    Sample* d = delayed_.data();
    delay_through_ring(x, audio_.data() + size_t{c} * len, len, start, n, d);
    return d;
  }

  limiter_shape shape_;
  uint16_t channels_;
  double release_;
  stream_set streams_;
  size_t ceiling_ = 0;
  std::vector<group> groups_;
  uint64_t frame_ = 0;
  uint32_t box_pos_ = 0;
  std::vector<Sample> audio_;
  uint32_t audio_pos_ = 0;
  std::vector<Sample> history_, scratch_;
  std::vector<double> last_interval_;
  std::vector<double> level_, channel_level_, gain_, ceiling_values_;
  std::vector<Sample> delayed_;
};

} // namespace

template <class Sample>
std::unique_ptr<basic_node_processor<Sample>> make_limiter(const render_graph&,
                                                           const render_node& node) {
  return std::make_unique<limiter_node<Sample>>(node);
}

template std::unique_ptr<node_processor> make_limiter<float>(const render_graph&,
                                                             const render_node&);
template std::unique_ptr<node_processor_f64> make_limiter<double>(const render_graph&,
                                                                  const render_node&);

uint64_t limiter_state_bytes(const render_node& node, sample_precision precision) noexcept {
  return precision == sample_precision::float64 ? limiter_node<double>::state_bytes_of(node)
                                                : limiter_node<float>::state_bytes_of(node);
}

uint32_t limiter_latency_frames(const render_node& node) noexcept {
  return shape_of(node).latency;
}

} // namespace loophole::signal
