// The sampler node: plays its media region (embedded whole in the graph, see
// docs/node-graph.md) once per MIDI note, with the event handling of the sine
// `instrument` node (events apply before the frame they sit on).
//
// A note of key k reads the sample at position
//   p(n) = p0 + (n - n0) * r,  r = 2^((k - root_key + 2 bend / 8192) / 12)
// from its note-on (p0 = 0, n0 = the note-on frame: the first frame plays
// sample 0); a bend rebases p0 and n0 so the position is continuous. Between
// samples it interpolates with Catmull-Rom (4 points; the sample is silent
// outside itself), which returns a sample exactly at integer positions: key
// = root_key plays the sample bit-exactly times the gain. The gain is
// velocity / 127 * volume / 127 (CC 7) times a linear attack of A frames
// ((j + 1) / A) and, from the note-off, a linear release of R frames from the
// level reached. A voice ends when its release does or the sample runs out.
// With every voice busy, a note-on takes the oldest (lowest slot on ties).
// Positions are closed forms of the frame, so any block split gives the same
// bits. A mono sample feeds every channel; otherwise channel c plays sample
// channel c, and channels the sample lacks are silent.

#include <algorithm>
#include <cmath>

#include "signal/dsp_nodes.hpp"
#include "signal/midi_player.hpp"
#include "signal/state_io.hpp"

namespace loophole::signal {

namespace {

class sampler_node final : public either_precision<sampler_node>, midi_player<sampler_node> {
  friend midi_player<sampler_node>;

public:
  sampler_node(const render_graph& graph, const render_node& node)
    : midi_player(node.events),
      sample_(node.embedded_audio),
      sample_channels_(node.media && node.media->media_index < graph.media.size()
                         ? graph.media[node.media->media_index].channels
                         : uint16_t{1}),
      length_(node.media ? node.media->length : 0),
      root_(param_or(node, "root_key", 60)),
      attack_(static_cast<int64_t>(param_or(node, "attack_frames", 0))),
      release_(static_cast<int64_t>(param_or(node, "release_frames", 0))),
      voices_(static_cast<size_t>(param_or(node, "voices", default_voices))) {
    if (sample_.size() != size_t{sample_channels_} * static_cast<size_t>(std::max<int64_t>(length_, 0)))
      length_ = 0; // no sample shipped: silence
  }

  static constexpr double default_voices = 32;
  using midi_player::header_bytes;
  static constexpr size_t voice_bytes = 3 * sizeof(int64_t) + 3 * sizeof(double) + 3;

  void prepare(uint32_t max_block) override {
    acc_.assign(size_t{max_channels} * max_block, 0.0);
    max_block_ = max_block;
  }

  template <class Sample>
  void process_block(const process_context& ctx, std::span<const basic_audio_view<Sample>>,
                     const basic_audio_view<Sample>& out) noexcept {
    played_ = sample_channels_ == 1 ? uint16_t{1} : std::min(out.channels, sample_channels_);
    for (uint16_t c = 0; c < played_; ++c)
      std::fill_n(acc_.data() + size_t{c} * max_block_, ctx.frames, 0.0);
    play(ctx.timeline_frame, ctx.timeline_frame + ctx.frames);
    for (uint16_t c = 0; c < out.channels; ++c) {
      if (sample_channels_ != 1 && c >= played_) {
        std::fill_n(out[c], ctx.frames, 0.0f);
        continue;
      }
      const double* acc = acc_.data() + size_t{sample_channels_ == 1 ? 0u : c} * max_block_;
      for (uint32_t i = 0; i < ctx.frames; ++i)
        out[c][i] = static_cast<Sample>(acc[i]);
    }
  }

  std::vector<std::byte> snapshot() const override {
    return snapshot_voices(
      voices_, voice_bytes, 0,
      [](state_writer& w, const voice& v) {
        w.put(v.on), w.put(v.off), w.put(v.base);
        w.put(v.position), w.put(v.ratio), w.put(v.release_from);
        w.put(v.key), w.put(v.velocity), w.put(v.active);
      },
      [](state_writer&) {});
  }

  bool restore(std::span<const std::byte> state) override {
    return restore_voices(
      state, voices_,
      [](state_reader& r, voice& v) {
        r.get(v.on), r.get(v.off), r.get(v.base);
        r.get(v.position), r.get(v.ratio), r.get(v.release_from);
        r.get(v.key), r.get(v.velocity), r.get(v.active);
        return std::isfinite(v.position) && std::isfinite(v.ratio) &&
               std::isfinite(v.release_from);
      },
      [](state_reader&) { return true; });
  }

private:
  struct voice {
    int64_t on = 0, off = -1;
    int64_t base = 0;     ///< the frame at which the position is `position`
    double position = 0, ratio = 1, release_from = 0;
    uint8_t key = 0, velocity = 0, active = 0;
  };

  static constexpr bool seeks_from_start = false; // positions are closed forms of the frame

  double ratio_of(uint8_t key) const noexcept {
    return std::exp2((key - root_ + 2.0 * bend_ / 8192.0) / 12.0);
  }

  static double position_at(const voice& v, int64_t n) noexcept {
    return v.position + static_cast<double>(n - v.base) * v.ratio;
  }

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

  float at(uint16_t channel, int64_t i) const noexcept {
    return i < 0 || i >= length_ ? 0.0f : sample_[size_t{channel} * static_cast<size_t>(length_) + static_cast<size_t>(i)];
  }

  // Catmull-Rom through the samples around `position`.
  double read(uint16_t channel, double position) const noexcept {
    const double fl = std::floor(position);
    const double t = position - fl;
    const auto i = static_cast<int64_t>(fl);
    const double p1 = at(channel, i);
    if (t == 0.0)
      return p1;
    const double p0 = at(channel, i - 1), p2 = at(channel, i + 1), p3 = at(channel, i + 2);
    return p1 + 0.5 * t *
                  (p2 - p0 + t * (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3 +
                                  t * (3.0 * (p1 - p2) + p3 - p0)));
  }

  void render(int64_t from, int64_t to, int64_t block_start) noexcept {
    const uint16_t channels = played_;
    const double volume = volume_ / 127.0;
    for (const auto& v : voices_) {
      if (!v.active)
        continue;
      const double amp = v.velocity / 127.0 * volume;
      for (int64_t n = from; n < to; ++n) {
        const double p = position_at(v, n);
        if (p >= static_cast<double>(length_))
          break;
        const double g = amp * envelope(v, n);
        const auto i = static_cast<size_t>(n - block_start);
        for (uint16_t c = 0; c < channels; ++c)
          acc_[size_t{c} * max_block_ + i] += g * read(c, p);
      }
    }
  }

  // Frees the voices silent from `frame` on: released to 0, or past the sample's end.
  void retire(int64_t frame) noexcept {
    for (auto& v : voices_)
      if (v.active && ((v.off >= 0 && v.off + release_ - 1 <= frame) ||
                       position_at(v, frame) >= static_cast<double>(length_)))
        v.active = 0;
  }

  void bend_changed(int64_t frame) noexcept {
    for (auto& v : voices_)
      if (v.active) { // continuous: from the frame before, at the new ratio
        v.position = position_at(v, frame - 1);
        v.base = frame - 1;
        v.ratio = ratio_of(v.key);
      }
  }

  // A free slot, the lowest; with none, the oldest note.
  void note_on(int64_t frame, uint8_t key, uint8_t velocity) noexcept {
    voice_for_note(voices_, [](const voice& v) { return v.on; }) =
      voice{frame, -1, frame, 0.0, ratio_of(key), 0.0, key, velocity, 1};
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

  std::vector<float> sample_;
  uint16_t sample_channels_;
  int64_t length_;
  double root_;
  int64_t attack_, release_;
  std::vector<voice> voices_;
  std::vector<double> acc_;
  uint32_t max_block_ = 0;
  uint16_t played_ = 1; ///< channels of the buffer the block renders
};

} // namespace

template <class Sample>
std::unique_ptr<basic_node_processor<Sample>> make_sampler(const render_graph& graph,
                                                    const render_node& node) {
  return std::make_unique<sampler_node>(graph, node);
}

template std::unique_ptr<node_processor> make_sampler<float>(const render_graph&, const render_node&);
template std::unique_ptr<node_processor_f64> make_sampler<double>(const render_graph&,
                                                          const render_node&);

uint64_t sampler_state_bytes(const render_node& node) noexcept {
  return sampler_node::header_bytes +
         static_cast<uint64_t>(param_or(node, "voices", sampler_node::default_voices)) *
           sampler_node::voice_bytes;
}

} // namespace loophole::signal
