#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <ctime>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <numbers>
#include <tuple>
#include <utility>

#include "signal/biquad.hpp"
#include "signal/dsp_nodes.hpp"
#include "signal/dynamics.hpp"
#include "signal/fade_curve.hpp"
#include "signal/midi_player.hpp"
#include "signal/node_catalog.hpp"
#include "signal/node_processor.hpp"
#include "signal/node_state.hpp"
#include "signal/oversampler.hpp"
#include "signal/param_stream.hpp"
#include "signal/tpdf_dither.hpp"
#include "signal/vector_kernels.hpp"

namespace loophole::signal {

namespace {

template <class Sample>
void clear(const basic_audio_view<Sample>& out) noexcept {
  for (uint16_t c = 0; c < out.channels; ++c)
    std::fill_n(out[c], out.frames, Sample{});
}

// Plays [source_offset, source_offset + length) of a media buffer from
// timeline_start on, reading the media window Pulse filled for the segment
// (window sample i holds the source frame played at timeline frame
// first_frame + i). Mono media fills every output channel; otherwise output
// channel c takes media channel c, and output channels the media lacks are
// silent.
class clip_source_node final : public either_precision<clip_source_node> {
public:
  clip_source_node(const render_graph& graph, const render_node& node)
    : region_(*node.media),
      channels_(node.channels),
      fade_in_(static_cast<int64_t>(param_or(node, "fade_in_frames", 0))),
      fade_out_(static_cast<int64_t>(param_or(node, "fade_out_frames", 0))),
      in_shape_(static_cast<fade_shape>(param_or(node, "fade_in_shape", 0))),
      out_shape_(static_cast<fade_shape>(param_or(node, "fade_out_shape", 0))) {
    // A gain envelope replaces the constant clip gain; gain_ then holds only
    // what folded followers multiply in.
    if (const auto* lane = lane_of(node, "gain"))
      envelope_ = *lane;
    const double gain = envelope_.points.empty() ? param_or(node, "gain", 1.0) : 1.0;
    const auto media_channels = graph.media[node.media->media_index].channels;
    for (uint16_t c = 0; c < channels_; ++c) {
      // Mono media feed every channel; otherwise channel c plays media
      // channel c, and channels the media lacks are silent.
      media_channel_[c] = media_channels == 1 ? 0 : c;
      gain_[c] = media_channel_[c] < media_channels ? gain : 0.0;
    }
  }

  bool fold_output_gain(uint16_t channels, const channel_map& source,
                        const channel_gains& gain) override {
    const auto old_channel = media_channel_;
    const auto old_gain = gain_;
    for (uint16_t c = 0; c < channels; ++c) {
      media_channel_[c] = old_channel[source[c]];
      gain_[c] = old_gain[source[c]] * gain[c];
    }
    channels_ = channels;
    return true;
  }

  void prepare(uint32_t) override {}

  void bind_media(const planar_region& media) noexcept override { media_ = media; }

  // Unity gain on every channel, no fade or envelope, and the block inside
  // the region: the output would be float(double(x) * 1) = x, the media
  // window itself, so the readers get the window.
  bool pass_view_block(const process_context& ctx, audio_view& out) const noexcept {
    const int64_t b0 = ctx.timeline_frame, b1 = b0 + ctx.frames;
    const int64_t r0 = region_.timeline_start, r1 = r0 + region_.length;
    if (media_.base == nullptr || b0 < r0 || b1 > r1 || !envelope_.points.empty() ||
        b0 - r0 < fade_in_ || (fade_out_ > 0 && b1 - r0 > region_.length - fade_out_))
      return false;
    for (uint16_t c = 0; c < channels_; ++c)
      if (gain_[c] != 1.0)
        return false;
    out.channels = channels_;
    out.frames = ctx.frames;
    for (uint16_t c = 0; c < channels_; ++c) {
      const uint16_t mc = std::min<uint16_t>(media_channel_[c], media_.channels - 1);
      out.channel[c] = const_cast<float*>(media_.channel(mc) + (b0 - media_.first_frame));
    }
    return true;
  }

  template <class Sample>
  void process_block(const process_context& ctx, std::span<const basic_audio_view<Sample>>,
                     const basic_audio_view<Sample>& out) noexcept {
    // Overlap of the block [b0, b1) with the region [r0, r1), in timeline frames.
    const int64_t b0 = ctx.timeline_frame, b1 = b0 + ctx.frames;
    const int64_t r0 = region_.timeline_start, r1 = r0 + region_.length;
    const int64_t s = std::max(b0, r0), e = std::min(b1, r1);
    if (s >= e || media_.base == nullptr) {
      clear(out);
      return;
    }
    for (uint16_t c = 0; c < out.channels; ++c) {
      std::fill(out[c], out[c] + (s - b0), Sample{});
      std::fill(out[c] + (e - b0), out[c] + ctx.frames, Sample{});
    }
    const auto out_off = static_cast<size_t>(s - b0);
    const auto count = static_cast<size_t>(e - s);
    const int64_t k0 = s - r0; // frame index inside the region
    const int64_t src0 = s - media_.first_frame; // index into the media window
    const bool faded = k0 < fade_in_ || (fade_out_ > 0 && e - r0 > region_.length - fade_out_) ||
                       !envelope_.points.empty();
    for (uint16_t c = 0; c < out.channels; ++c) {
      const uint16_t mc = std::min<uint16_t>(media_channel_[c], media_.channels - 1);
      const float* src = media_.channel(mc) + src0;
      Sample* dst = out[c] + out_off;
      const double gain = gain_[c];
      // Both paths compute Sample(double(x) * gain): the same rounding for a
      // frame whether or not its block also holds part of a fade.
      if (!faded) {
        kernels::scale_to_float(src, gain, dst, static_cast<uint32_t>(count));
      } else {
        for (size_t i = 0; i < count; ++i) {
          const auto k = k0 + static_cast<int64_t>(i);
          double fg = gain * clip_fade_gain(k, region_.length, fade_in_, in_shape_, fade_out_,
                                            out_shape_);
          if (!envelope_.points.empty())
            fg *= automation_value(envelope_, s + static_cast<int64_t>(i));
          dst[i] = static_cast<Sample>(static_cast<double>(src[i]) * fg);
        }
      }
    }
  }

private:
  media_region region_;
  uint16_t channels_;
  channel_map media_channel_{};
  channel_gains gain_{};
  int64_t fade_in_, fade_out_;
  fade_shape in_shape_, out_shape_;
  automation_lane envelope_; ///< the clip gain over time (empty: constant)
  planar_region media_{};
};

// Sums the inputs in the order the graph lists them, accumulating in double
// so the result is rounded to the sample type once.
class mix_node final : public either_precision<mix_node> {
public:
  explicit mix_node(const render_node& node) {
    for (uint16_t c = 0; c < node.channels; ++c) {
      source_[c] = c;
      gain_[c] = 1.0;
    }
  }

  void prepare(uint32_t max_block) override { acc_.assign(max_block, 0.0); }

  bool fold_output_gain(uint16_t, const channel_map& source, const channel_gains& gain) override {
    const auto old_source = source_;
    const auto old_gain = gain_;
    for (uint16_t c = 0; c < max_channels; ++c) {
      source_[c] = old_source[source[c]];
      gain_[c] = old_gain[source[c]] * gain[c];
    }
    scaled_ = true;
    return true;
  }

  template <class Sample>
  void process_block(const process_context& ctx, std::span<const basic_audio_view<Sample>> inputs,
                     const basic_audio_view<Sample>& out) noexcept {
    for (uint16_t c = 0; c < out.channels; ++c) {
      double* acc = acc_.data();
      const uint16_t sc = source_[c];
      std::fill_n(acc, ctx.frames, 0.0);
      size_t i = 0;
      for (; i + 4 <= inputs.size(); i += 4)
        kernels::accumulate4(acc, inputs[i][sc], inputs[i + 1][sc], inputs[i + 2][sc],
                             inputs[i + 3][sc], ctx.frames);
      for (; i < inputs.size(); ++i)
        kernels::accumulate(acc, inputs[i][sc], ctx.frames);
      if (scaled_)
        kernels::store_scaled(acc, gain_[c], out[c], ctx.frames);
      else
        kernels::store(acc, out[c], ctx.frames);
    }
  }

private:
  std::vector<double> acc_;
  channel_map source_{};
  channel_gains gain_{};
  bool scaled_ = false;
};

// Snapshot and restore of a node whose only state is one parameter stream's
// (its envelope followers).
#define LOOPHOLE_STREAM_STATE(stream)                                              \
  std::vector<std::byte> snapshot() const override {                            \
    std::vector<std::byte> state(stream.state_bytes());                         \
    stream.snapshot_into(state.data());                                         \
    return state;                                                               \
  }                                                                             \
  bool restore(std::span<const std::byte> state) override {                     \
    return stream.restore_from(state);                                          \
  }

// A constant gain, or one that follows its automation lane and modulators:
// the gain of each frame is the stream's value there (computed in double,
// applied in the sample type).
class gain_node final : public either_precision<gain_node> {
public:
  explicit gain_node(const render_node& node) : gain_(node, "gain", param_or(node, "gain", 1.0)) {}

  void prepare(uint32_t max_block) override { gain_.prepare(max_block); }

  template <class Sample>
  void process_block(const process_context& ctx, std::span<const basic_audio_view<Sample>> inputs,
                     const basic_audio_view<Sample>& out) noexcept {
    if (!gain_.varies()) {
      for (uint16_t c = 0; c < out.channels; ++c)
        kernels::multiply(inputs[0][c], static_cast<Sample>(gain_.constant()), out[c], ctx.frames);
      return;
    }
    const double* g = gain_.fill(ctx.timeline_frame, ctx.frames, inputs[0]);
    for (uint16_t c = 0; c < out.channels; ++c) {
      const Sample* x = inputs[0][c];
      Sample* y = out[c];
      for (uint32_t i = 0; i < ctx.frames; ++i)
        y[i] = x[i] * static_cast<Sample>(g[i]);
    }
  }

  LOOPHOLE_STREAM_STATE(gain_)

private:
  param_stream gain_;
};

// Pan laws, of the position p in [-1, 1] (automated or modulated values are
// clamped to it frame by frame):
// - constant_power: theta = (p + 1) pi / 4, left times cos(theta), right
//   times sin(theta) (-3 dB each at the centre);
// - linear: left times (1 - p)/2, right times (1 + p)/2 (-6 dB at the centre);
// - balance: unity at the centre; p > 0 scales the left by 1 - p, p < 0 the
//   right by 1 + p.
// A mono input feeds both sides. A stereo input first has its width set:
// M = (L + R)/2, S = (L - R)/2 x width, L = M + S, R = M - S (width clamped
// to [0, 2]; width 1, constant, skips it, so the plain pan keeps its bits).
enum class pan_law : uint8_t { constant_power = 0, linear = 1, balance = 2 };

std::pair<double, double> pan_gains(pan_law law, double p) noexcept {
  switch (law) {
    case pan_law::linear:
      return {(1.0 - p) / 2.0, (1.0 + p) / 2.0};
    case pan_law::balance:
      return {p > 0.0 ? 1.0 - p : 1.0, p < 0.0 ? 1.0 + p : 1.0};
    case pan_law::constant_power:
      break;
  }
  const double theta = (p + 1.0) * std::numbers::pi / 4.0;
  return {std::cos(theta), std::sin(theta)};
}

class pan_node final : public either_precision<pan_node> {
public:
  explicit pan_node(const render_node& node)
    : law_(static_cast<pan_law>(param_or(node, "law", 0.0))) {
    position_ = streams_.add(node, "position", param_or(node, "position", 0.0));
    width_ = streams_.add(node, "width", param_or(node, "width", 1.0));
    std::tie(left_, right_) = pan_gains(law_, streams_[position_].constant());
  }

  void prepare(uint32_t max_block) override { streams_.prepare(max_block); }

  template <class Sample>
  void process_block(const process_context& ctx, std::span<const basic_audio_view<Sample>> inputs,
                     const basic_audio_view<Sample>& out) noexcept {
    const auto& in = inputs[0];
    const Sample* l = in[0];
    const Sample* r = in.channels == 1 ? in[0] : in[1];
    // The constant gains in the sample type, as the plain path applies them.
    const auto left = static_cast<Sample>(left_), right = static_cast<Sample>(right_);
    auto& position = streams_[position_];
    auto& width = streams_[width_];
    const bool widened = in.channels == 2 && (width.varies() || width.constant() != 1.0);
    if (!position.varies() && !widened) {
      kernels::multiply(l, left, out[0], ctx.frames);
      kernels::multiply(r, right, out[1], ctx.frames);
      return;
    }
    const double* p = position.varies() ? position.fill(ctx.timeline_frame, ctx.frames, in)
                                        : nullptr;
    const double* w = width.varies() ? width.fill(ctx.timeline_frame, ctx.frames, in) : nullptr;
    for (uint32_t i = 0; i < ctx.frames; ++i) {
      double gl = left, gr = right;
      if (p)
        std::tie(gl, gr) = pan_gains(law_, std::clamp(p[i], -1.0, 1.0));
      const double wi = w ? std::clamp(w[i], 0.0, 2.0) : width.constant();
      if (!widened || wi == 1.0) {
        out[0][i] = l[i] * static_cast<Sample>(gl);
        out[1][i] = r[i] * static_cast<Sample>(gr);
        continue;
      }
      const double xl = l[i], xr = r[i];
      const double mid = (xl + xr) / 2.0, side = (xl - xr) / 2.0 * wi;
      out[0][i] = static_cast<Sample>((mid + side) * gl);
      out[1][i] = static_cast<Sample>((mid - side) * gr);
    }
  }

  std::vector<std::byte> snapshot() const override {
    state_writer w(streams_.state_bytes());
    w.put_streams(streams_);
    return w.take();
  }
  bool restore(std::span<const std::byte> state) override { return streams_.restore_from(state); }

private:
  pan_law law_;
  stream_set streams_;
  size_t position_ = 0, width_ = 0;
  double left_ = 0, right_ = 0;
};

// A sample-accurate delay line with feedback, per channel:
//   d[n] = w[n - D],  w[n] = x[n] + feedback * d[n],  y[n] = dry * x[n] + wet * d[n]
// (D = 0 makes d[n] = x[n]), in the sample type; feedback, wet and dry may
// follow automation (their value at each frame, rounded to the sample type). Its state is the
// line, the write position and the parameter streams' followers.
template <class Sample>
class delay_node final : public basic_node_processor<Sample> {
public:
  using view = basic_audio_view<Sample>;

  explicit delay_node(const render_node& node)
    : frames_(static_cast<uint32_t>(param_or(node, "frames", 0))),
      channels_(node.channels) {
    feedback_ = streams_.add(node, "feedback", param_or(node, "feedback", 0.0));
    wet_ = streams_.add(node, "wet", param_or(node, "wet", 1.0));
    dry_ = streams_.add(node, "dry", param_or(node, "dry", 0.0));
  }

  void prepare(uint32_t max_block) override {
    line_.assign(size_t{channels_} * frames_, Sample{});
    pos_ = 0;
    streams_.prepare(max_block);
    for (auto* v : {&fb_, &wet_values_, &dry_values_})
      v->assign(max_block, Sample{});
  }

  void process_rt(const process_context& ctx, std::span<const view> inputs,
                  const view& out) noexcept override {
    const auto& in = inputs[0];
    // Per-frame values (constants repeated when they do not vary), in the
    // sample type.
    auto values = [&](size_t index, std::vector<Sample>& v) {
      auto& s = streams_[index];
      if (s.varies()) {
        const double* d = s.fill(ctx.timeline_frame, ctx.frames, in);
        for (uint32_t i = 0; i < ctx.frames; ++i)
          v[i] = static_cast<Sample>(d[i]);
      } else {
        std::fill_n(v.data(), ctx.frames, static_cast<Sample>(s.constant()));
      }
      return v.data();
    };
    const Sample* fb = values(feedback_, fb_);
    const Sample* wet = values(wet_, wet_values_);
    const Sample* dry = values(dry_, dry_values_);
    if (frames_ == 0) {
      for (uint16_t c = 0; c < out.channels; ++c)
        for (uint32_t i = 0; i < ctx.frames; ++i) {
          const Sample x = in[c][i];
          out[c][i] = dry[i] * x + wet[i] * x;
        }
      return;
    }
    uint32_t pos = 0;
    for (uint16_t c = 0; c < out.channels; ++c) {
      Sample* line = line_.data() + size_t{c} * frames_;
      const Sample* x = in[c];
      Sample* y = out[c];
      pos = pos_;
      for (uint32_t i = 0; i < ctx.frames; ++i) {
        const Sample d = line[pos];
        line[pos] = x[i] + fb[i] * d;
        y[i] = dry[i] * x[i] + wet[i] * d;
        if (++pos == frames_)
          pos = 0;
      }
    }
    pos_ = pos;
  }

  std::vector<std::byte> snapshot() const override {
    state_writer w(sizeof pos_ + line_.size() * sizeof(Sample) + streams_.state_bytes());
    w.put(pos_);
    w.put_all(std::span<const Sample>(line_));
    w.put_streams(streams_);
    return w.take();
  }

  bool restore(std::span<const std::byte> state) override {
    uint32_t pos = 0;
    if (state.size() != sizeof pos + line_.size() * sizeof(Sample) + streams_.state_bytes())
      return false;
    std::memcpy(&pos, state.data(), sizeof pos);
    if (frames_ != 0 ? pos >= frames_ : pos != 0)
      return false;
    if (!streams_.restore_from(state.subspan(sizeof pos + line_.size() * sizeof(Sample))))
      return false;
    pos_ = pos;
    std::memcpy(line_.data(), state.data() + sizeof pos, line_.size() * sizeof(Sample));
    return true;
  }

private:
  uint32_t frames_;
  uint16_t channels_;
  stream_set streams_;
  size_t feedback_ = 0, wet_ = 0, dry_ = 0;
  std::vector<Sample> fb_, wet_values_, dry_values_;
  std::vector<Sample> line_;
  uint32_t pos_ = 0;
};

// Inverts the channels whose bit is set in `mask` (default: all).
class polarity_node final : public either_precision<polarity_node> {
public:
  explicit polarity_node(const render_node& node)
    : mask_(static_cast<uint32_t>(param_or(node, "mask", 4294967295.0))) {}

  void prepare(uint32_t) override {}

  template <class Sample>
  void process_block(const process_context& ctx, std::span<const basic_audio_view<Sample>> inputs,
                     const basic_audio_view<Sample>& out) noexcept {
    for (uint16_t c = 0; c < out.channels; ++c) {
      const Sample* x = inputs[0][c];
      Sample* y = out[c];
      if (mask_ >> c & 1u)
        for (uint32_t i = 0; i < ctx.frames; ++i)
          y[i] = -x[i];
      else
        std::copy_n(x, ctx.frames, y);
    }
  }

private:
  uint32_t mask_;
};

// Copies its input: a meter is a tap Pulse reads (the measuring happens in
// Pulse, in segment order, so a Signal crash loses nothing of it).
class pass_through_node final : public either_precision<pass_through_node> {
public:
  void prepare(uint32_t) override {}

  template <class Sample>
  void process_block(const process_context& ctx, std::span<const basic_audio_view<Sample>> inputs,
                     const basic_audio_view<Sample>& out) noexcept {
    for (uint16_t c = 0; c < out.channels; ++c)
      std::copy_n(inputs[0][c], ctx.frames, out[c]);
  }
};

// Fault injection for rehearsing failures on real sessions: passes its input
// through until the timeline reaches `at_frame`, then misbehaves as its mode
// says. Deliberately breaks the realtime contract; only accepted when the
// session or the command line enables test nodes.
class test_fault_node final : public either_precision<test_fault_node> {
public:
  explicit test_fault_node(const render_node& node)
    : mode_(static_cast<fault_mode>(param_or(node, "mode", 0))),
      at_(static_cast<int64_t>(param_or(node, "at_frame", 0))),
      leak_cap_(static_cast<uint64_t>(param_or(node, "leak_bytes", 0))),
      block_bytes_(static_cast<uint64_t>(param_or(node, "block_bytes", 1 << 20))),
      sleep_us_(static_cast<long>(param_or(node, "sleep_us", 1000))) {}

  void prepare(uint32_t) override {}

  template <class Sample>
  void process_block(const process_context& ctx, std::span<const basic_audio_view<Sample>> inputs,
                     const basic_audio_view<Sample>& out) noexcept {
    for (uint16_t c = 0; c < out.channels; ++c)
      std::copy_n(inputs[0][c], ctx.frames, out[c]);
    if (ctx.timeline_frame + ctx.frames <= at_)
      return;
    switch (mode_) {
      case fault_mode::none:
        break;
      case fault_mode::segv:
        ::raise(SIGSEGV);
        break;
      case fault_mode::abort:
        std::abort();
      case fault_mode::hang:
        for (;;)
          ::pause();
      case fault_mode::nan:
        if (at_ >= ctx.timeline_frame)
          for (uint16_t c = 0; c < out.channels; ++c)
            out[c][at_ - ctx.timeline_frame] = std::numeric_limits<Sample>::quiet_NaN();
        break;
      case fault_mode::leak:
        if (leaked_ < leak_cap_) {
          const auto n = static_cast<size_t>(std::min(block_bytes_, leak_cap_ - leaked_));
          void* p = std::malloc(n);
          if (!p)
            std::abort(); // out of memory: what a real leak ends in
          std::memset(p, 0x5a, n); // touched, so it counts against the memory limit
          blocks_[leaked_blocks_++ % blocks_.size()] = p;
          leaked_ += n;
        }
        break;
      case fault_mode::snapshot_crash:
        armed_ = true;
        break;
      case fault_mode::exit:
        std::_Exit(3);
      case fault_mode::slow: {
        timespec t{sleep_us_ / 1000000, (sleep_us_ % 1000000) * 1000};
        while (::nanosleep(&t, &t) != 0 && errno == EINTR) {
        }
        break;
      }
    }
  }

  std::vector<std::byte> snapshot() const override {
    if (armed_)
      ::raise(SIGSEGV);
    return {};
  }

private:
  fault_mode mode_;
  int64_t at_;
  uint64_t leak_cap_, block_bytes_;
  long sleep_us_;
  uint64_t leaked_ = 0;
  size_t leaked_blocks_ = 0;
  std::array<void*, 16> blocks_{}; // keeps the last blocks reachable-looking; never freed
  bool armed_ = false;
};


// A polyphonic sine synth playing the node's MIDI events. Each voice is
//   amplitude * envelope(n) * sin(2 pi phase(n)),
// amplitude = velocity/127 * volume/127 (CC 7, 127 at first), the frequency
// 440 * 2^((pitch - 69 + 2 * bend/8192) / 12) Hz (equal temperament, bends
// of +-2 semitones), the envelope a linear attack of A frames, (k+1)/A at k
// frames after the note-on, and from the note-off a linear release of R
// frames from the level reached to 0. The oscillator steps before it sounds,
// so a note's first sample, on the frame of its note-on, is sin(2 pi f/rate):
// not zero.
//
// Every value is a closed form of the frame (the phase counts from the last
// frequency change), never a running sum, so any split into blocks, and a
// jump over frames (`seek`), gives the same bits. Voices sum in slot order in
// double, rounded to the sample type once.
class instrument_node final : public either_precision<instrument_node>, midi_player<instrument_node> {
  friend midi_player<instrument_node>;

public:
  instrument_node(const render_graph& graph, const render_node& node)
    : midi_player(node.events),
      rate_(graph.sample_rate),
      attack_(static_cast<int64_t>(param_or(node, "attack_frames", 0))),
      release_(static_cast<int64_t>(param_or(node, "release_frames", 0))),
      voices_(static_cast<size_t>(param_or(node, "voices", default_voices))) {}

  static constexpr double default_voices = 32;
  using midi_player::header_bytes;
  static constexpr size_t voice_bytes = 3 * sizeof(int64_t) + 3 * sizeof(double) + 3;

  void prepare(uint32_t max_block) override { acc_.assign(max_block, 0.0); }

  template <class Sample>
  void process_block(const process_context& ctx, std::span<const basic_audio_view<Sample>>,
                     const basic_audio_view<Sample>& out) noexcept {
    std::fill_n(acc_.data(), ctx.frames, 0.0);
    play(ctx.timeline_frame, ctx.timeline_frame + ctx.frames);
    for (uint16_t c = 0; c < out.channels; ++c)
      kernels::store(acc_.data(), out[c], ctx.frames);
  }

  std::vector<std::byte> snapshot() const override {
    return snapshot_voices(
      voices_, voice_bytes, 0,
      [](state_writer& w, const voice& v) {
        w.put(v.on), w.put(v.off), w.put(v.phase_frame);
        w.put(v.phase), w.put(v.inc), w.put(v.release_from);
        w.put(v.key), w.put(v.velocity), w.put(v.active);
      },
      [](state_writer&) {});
  }

  bool restore(std::span<const std::byte> state) override {
    return restore_voices(
      state, voices_,
      [](state_reader& r, voice& v) {
        r.get(v.on), r.get(v.off), r.get(v.phase_frame);
        r.get(v.phase), r.get(v.inc), r.get(v.release_from);
        r.get(v.key), r.get(v.velocity), r.get(v.active);
        return std::isfinite(v.phase) && std::isfinite(v.inc) && std::isfinite(v.release_from);
      },
      [](state_reader&) { return true; });
  }

private:
  struct voice {
    int64_t on = 0;          ///< frame of the note-on
    int64_t off = -1;        ///< frame of the note-off; -1 while held
    int64_t phase_frame = 0; ///< the phase is `phase` here and steps by `inc` a frame
    double phase = 0, inc = 0, release_from = 0;
    uint8_t key = 0, velocity = 0, active = 0;
  };

  static constexpr bool seeks_from_start = false; // every value is a closed form of the frame

  double increment(uint8_t key) const noexcept {
    const double semitones = key - 69.0 + 2.0 * bend_ / 8192.0;
    return 440.0 * std::exp2(semitones / 12.0) / rate_;
  }

  static double phase_at(const voice& v, int64_t frame) noexcept {
    const double p = v.phase + v.inc * static_cast<double>(frame - v.phase_frame);
    return p - std::floor(p);
  }

  // The envelope of frame n; 0 once the release is over.
  double envelope(const voice& v, int64_t n) const noexcept {
    if (v.off < 0 || n < v.off)
      return attack_ == 0 ? 1.0
                          : std::min(1.0, static_cast<double>(n - v.on + 1) /
                                            static_cast<double>(attack_));
    const int64_t j = n - v.off + 1;
    return j >= release_ ? 0.0
                         : v.release_from * (1.0 - static_cast<double>(j) /
                                                      static_cast<double>(release_));
  }

  void render(int64_t from, int64_t to, int64_t block_start) noexcept {
    double* acc = acc_.data() + (from - block_start);
    const double volume = volume_ / 127.0;
    for (const auto& v : voices_) {
      if (!v.active)
        continue;
      const double amp = v.velocity / 127.0 * volume;
      for (int64_t n = from; n < to; ++n)
        acc[n - from] +=
          amp * envelope(v, n) * std::sin(2.0 * std::numbers::pi * phase_at(v, n));
    }
  }

  // Frees the voices silent from `frame` on (a release reaches 0 at its
  // R-th frame, off + R - 1).
  void retire(int64_t frame) noexcept {
    for (auto& v : voices_)
      if (v.active && v.off >= 0 && v.off + release_ - 1 <= frame)
        v.active = 0;
  }

  void bend_changed(int64_t frame) noexcept {
    for (auto& v : voices_)
      if (v.active) { // the phase goes on from the frame before at the new frequency
        v.phase = phase_at(v, frame - 1);
        v.phase_frame = frame - 1;
        v.inc = increment(v.key);
      }
  }

  // A free slot, the lowest; with none, the oldest released note, then the
  // oldest held one.
  void note_on(int64_t frame, uint8_t key, uint8_t velocity) noexcept {
    voice_for_note(voices_, [](const voice& v) { return std::pair{v.off < 0, v.on}; }) =
      voice{frame, -1, frame - 1, 0.0, increment(key), 0.0, key, velocity, 1};
  }

  void note_off(int64_t frame, uint8_t key) noexcept {
    voice* held = oldest_held(voices_, key);
    if (!held)
      return;
    held->release_from = envelope(*held, frame - 1);
    held->off = frame;
    retire(frame);
  }

  void reset_voices() noexcept { std::fill(voices_.begin(), voices_.end(), voice{}); }

  uint32_t rate_;
  int64_t attack_, release_;
  std::vector<voice> voices_;
  std::vector<double> acc_;
};

} // namespace

bool as_channel_map(const render_node& node, uint16_t input_channels, channel_map& source,
                    channel_gains& gain) {
  if (node.kind == node_kind::gain) {
    if (lane_of(node, "gain"))
      return false; // automated: not a constant map
    for (uint16_t c = 0; c < node.channels; ++c) {
      source[c] = c;
      gain[c] = param_or(node, "gain", 1.0);
    }
    return true;
  }
  if (node.kind == node_kind::pan) {
    if (lane_of(node, "position") || lane_of(node, "width") ||
        (input_channels == 2 && param_or(node, "width", 1.0) != 1.0))
      return false; // automated, or mixing the channels: not a constant map
    const auto [l, r] = pan_gains(static_cast<pan_law>(param_or(node, "law", 0.0)),
                                  param_or(node, "position", 0.0));
    source[0] = 0;
    source[1] = input_channels == 1 ? 0 : 1;
    gain[0] = l;
    gain[1] = r;
    return true;
  }
  return false;
}

namespace {

// The latency and state of a node at its own rate, without oversampling.
uint32_t own_latency(const render_graph& graph, const render_node& node) noexcept {
  switch (node.kind) {
    case node_kind::compressor:
      return static_cast<uint32_t>(param_or(node, "lookahead_frames", 0));
    case node_kind::limiter:
      return limiter_latency_frames(node);
    case node_kind::convolution:
      return convolution_latency(node);
    default:
      (void)graph;
      return 0;
  }
}

uint64_t own_state_bytes(const render_graph* graph, const render_node& node) noexcept {
  // Delay lines and lookahead rings hold samples: their size follows the
  // graph's precision (float without a graph).
  const auto precision = graph ? graph->precision : sample_precision::float32;
  switch (node.kind) {
    case node_kind::gain:
    case node_kind::pan:
    case node_kind::surround_pan:
      return modulation_state_bytes(node);
    case node_kind::delay:
      return sizeof(uint32_t) +
             uint64_t{node.channels} * static_cast<uint64_t>(param_or(node, "frames", 0)) *
               sample_bytes(precision) +
             modulation_state_bytes(node);
    case node_kind::eq:
      return eq_state_bytes(node);
    case node_kind::compressor:
    case node_kind::gate:
    case node_kind::limiter:
      return dynamics_state_bytes(node, precision);
    case node_kind::instrument:
      return instrument_node::header_bytes +
             static_cast<uint64_t>(param_or(node, "voices", instrument_node::default_voices)) *
               instrument_node::voice_bytes;
    case node_kind::saturation:
      return saturation_state_bytes(node);
    case node_kind::convolution: {
      if (graph)
        return convolution_state_bytes(*graph, node);
      render_graph none;
      return convolution_state_bytes(none, node);
    }
    case node_kind::synth:
      return synth_state_bytes(node);
    case node_kind::sampler:
      return sampler_state_bytes(node);
    default:
      return 0;
  }
}

uint16_t input_channels_of(const render_graph* graph, const render_node& node, uint32_t input) {
  return graph && input < graph->nodes.size() ? graph->nodes[input].channels : node.channels;
}

uint64_t state_bytes_in(const render_graph* graph, uint32_t factor,
                        const render_node& node) noexcept {
  if (factor <= 1)
    return own_state_bytes(graph, node);
  uint64_t channels = node.channels;
  for (auto in : node.inputs)
    channels += input_channels_of(graph, node, in);
  const size_t oversampler_bytes =
    graph && graph->precision == sample_precision::float64
      ? basic_channel_oversampler<double>::state_bytes(factor)
      : basic_channel_oversampler<float>::state_bytes(factor);
  return channels * oversampler_bytes +
         own_state_bytes(graph, scaled_for_oversampling(node, factor));
}

} // namespace

uint32_t latency_frames(const render_graph& graph, const render_node& node) noexcept {
  const uint32_t factor = oversample_factor(graph, node);
  if (factor <= 1)
    return own_latency(graph, node);
  const uint32_t inner = own_latency(graph, scaled_for_oversampling(node, factor));
  return channel_oversampler::latency_frames(factor) + (inner + factor - 1) / factor;
}

uint64_t state_bytes(const render_graph& graph, const render_node& node) noexcept {
  return state_bytes_in(&graph, oversample_factor(graph, node), node);
}

uint64_t state_bytes(const render_node& node) noexcept {
  render_graph defaults;
  return state_bytes_in(nullptr, oversample_factor(defaults, node), node);
}

template <class Sample>
std::unique_ptr<basic_node_processor<Sample>> make_processor(const render_graph& graph,
                                                             const render_node& node) {
  if (const uint32_t factor = oversample_factor(graph, node); factor > 1) {
    std::vector<uint16_t> input_channels;
    for (auto in : node.inputs)
      input_channels.push_back(input_channels_of(&graph, node, in));
    return make_oversampled<Sample>(graph, node, factor, std::move(input_channels));
  }
  switch (node.kind) {
    case node_kind::clip_source:
      return std::make_unique<clip_source_node>(graph, node);
    case node_kind::mix:
      return std::make_unique<mix_node>(node);
    case node_kind::gain:
      return std::make_unique<gain_node>(node);
    case node_kind::pan:
      return std::make_unique<pan_node>(node);
    case node_kind::output:
      return nullptr; // the executor writes the sink itself, see output_stage
    case node_kind::delay:
      return std::make_unique<delay_node<Sample>>(node);
    case node_kind::test_fault:
      return std::make_unique<test_fault_node>(node);
    case node_kind::instrument:
      return std::make_unique<instrument_node>(graph, node);
    case node_kind::meter:
      return std::make_unique<pass_through_node>();
    case node_kind::saturation:
      return make_saturation<Sample>(graph, node);
    case node_kind::convolution:
      return make_convolution<Sample>(graph, node);
    case node_kind::sampler:
      return make_sampler<Sample>(graph, node);
    case node_kind::synth:
      return make_synth<Sample>(graph, node);
    case node_kind::surround_pan:
      return make_surround_pan<Sample>(graph, node);
    case node_kind::fold_down:
      return make_fold_down<Sample>(graph, node);
    case node_kind::polarity:
      return std::make_unique<polarity_node>(node);
    case node_kind::eq:
      return make_eq<Sample>(graph, node);
    case node_kind::compressor:
    case node_kind::gate:
    case node_kind::limiter:
      return make_dynamics<Sample>(graph, node);
  }
  return nullptr;
}

template std::unique_ptr<node_processor> make_processor<float>(const render_graph&,
                                                               const render_node&);
template std::unique_ptr<node_processor_f64> make_processor<double>(const render_graph&,
                                                                    const render_node&);

} // namespace loophole::signal
