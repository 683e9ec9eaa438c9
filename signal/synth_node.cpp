// The synth node: a subtractive polyphonic synth playing the node's MIDI
// events (handled as the sine `instrument` node does: events apply before
// the frame they sit on; note-offs, then controllers, then note-ons).
//
// Per voice and frame, in double:
//   osc1 at f1 = 440 * 2^((key - 69 + 2 bend / 8192) / 12) Hz,
//   osc2 at f1 * 2^((osc2_semitones + detune_cents / 100) / 12),
//   o = (1 - osc_mix) osc1 + osc_mix osc2 (osc_mix defaults to 0),
//   y = velocity / 127 * volume / 127 * amp_env * LP(o),
// LP the TPT state-variable low-pass (signal/synth_node.hpp) at
//   cutoff_hz * 2^(filter_env_octaves * filter_env), clamped to [20 Hz, 0.49 fs],
// its coefficients computed every frame (the filter is stable under that).
// Oscillators are band-limited: PolyBLEP saw and square, the triangle a
// naive triangle with PolyBLAMP corrections at its corners, and a sine. Each
// phase advances by its increment every frame (a running sum in double),
// and it steps before it sounds, as in the instrument node. Voices sum in
// slot order, rounded to float once; every channel gets the same signal.
//
// State (checkpointed): the frame reached, volume and bend, and per voice its
// note, envelopes, phases and filter integrators. A block that does not
// start where the last ended (a jump) restarts the voices from silence with
// the events before it applied.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

#include "signal/dsp_nodes.hpp"
#include "signal/midi_player.hpp"
#include "signal/param_stream.hpp"
#include "signal/state_io.hpp"
#include "signal/synth_node.hpp"

namespace loophole::signal {

namespace {

enum class waveform : uint8_t { saw = 0, square = 1, triangle = 2, sine = 3 };

double poly_blep(double t, double dt) noexcept {
  if (t < dt) {
    const double x = t / dt;
    return x + x - x * x - 1.0;
  }
  if (t > 1.0 - dt) {
    const double x = (t - 1.0) / dt;
    return x * x + x + x + 1.0;
  }
  return 0.0;
}

double poly_blamp(double t, double dt) noexcept {
  if (t < dt) {
    const double x = t / dt - 1.0;
    return -x * x * x / 3.0;
  }
  if (t > 1.0 - dt) {
    const double x = (t - 1.0) / dt + 1.0;
    return x * x * x / 3.0;
  }
  return 0.0;
}

double wrap(double t) noexcept { return t - std::floor(t); }

double oscillator(waveform w, double t, double dt) noexcept {
  switch (w) {
    case waveform::saw:
      return 2.0 * t - 1.0 - poly_blep(t, dt);
    case waveform::square:
      return (t < 0.5 ? 1.0 : -1.0) + poly_blep(t, dt) - poly_blep(wrap(t + 0.5), dt);
    case waveform::triangle:
      // 1 at t = 0 falling to -1 at 1/2: slopes of -+4 a cycle, so the
      // corners change the slope by 8 dt a frame.
      return 4.0 * std::abs(t - 0.5) - 1.0 - 8.0 * dt * poly_blamp(t, dt) +
             8.0 * dt * poly_blamp(wrap(t + 0.5), dt);
    case waveform::sine:
      return std::sin(2.0 * std::numbers::pi * t);
  }
  return 0.0;
}

class synth_node final : public either_precision<synth_node>, midi_player<synth_node> {
  friend midi_player<synth_node>;

public:
  synth_node(const render_graph& graph, const render_node& node)
    : midi_player(node.events),
      rate_(graph.sample_rate),
      wave_(static_cast<waveform>(param_or(node, "waveform", 0))),
      amp_{static_cast<int64_t>(param_or(node, "attack_frames", 0)),
           static_cast<int64_t>(param_or(node, "decay_frames", 0)),
           static_cast<int64_t>(param_or(node, "release_frames", 0)),
           param_or(node, "sustain", 1.0)},
      filter_env_{static_cast<int64_t>(param_or(node, "filter_attack_frames", 0)),
                  static_cast<int64_t>(param_or(node, "filter_decay_frames", 0)),
                  static_cast<int64_t>(param_or(node, "filter_release_frames", 0)),
                  param_or(node, "filter_sustain", 1.0)},
      semitones_(node, "osc2_semitones", param_or(node, "osc2_semitones", 0.0)),
      mix_(node, "osc_mix", param_or(node, "osc_mix", 0.0)),
      detune_(node, "detune_cents", param_or(node, "detune_cents", 0.0)),
      cutoff_(node, "cutoff_hz", param_or(node, "cutoff_hz", 20000.0)),
      resonance_(node, "resonance", param_or(node, "resonance", 0.0)),
      env_octaves_(node, "filter_env_octaves", param_or(node, "filter_env_octaves", 0.0)),
      voices_(static_cast<size_t>(param_or(node, "voices", default_voices))) {}

  static constexpr double default_voices = 16;
  using midi_player::header_bytes;
  static constexpr size_t voice_bytes = 2 * sizeof(int64_t) + 7 * sizeof(double) + 3;

  void prepare(uint32_t max_block) override {
    acc_.assign(max_block, 0.0);
    for (auto* s : streams())
      s->prepare(max_block);
  }

  template <class Sample>
  void process_block(const process_context& ctx, std::span<const basic_audio_view<Sample>>,
                     const basic_audio_view<Sample>& out) noexcept {
    const int64_t b0 = ctx.timeline_frame;
    const audio_view none{};
    auto fill = [&](param_stream& s) {
      return s.varies() ? s.fill(b0, ctx.frames, none) : nullptr;
    };
    params_ = {fill(semitones_), fill(mix_), fill(detune_), fill(cutoff_), fill(resonance_),
               fill(env_octaves_)};
    std::fill_n(acc_.data(), ctx.frames, 0.0);
    play(b0, b0 + ctx.frames);
    for (uint16_t c = 0; c < out.channels; ++c)
      for (uint32_t i = 0; i < ctx.frames; ++i)
        out[c][i] = static_cast<Sample>(acc_[i]);
  }

  std::vector<std::byte> snapshot() const override {
    return snapshot_voices(
      voices_, voice_bytes, 0,
      [](state_writer& w, const voice& v) {
        w.put(v.on), w.put(v.off);
        w.put(v.phase1), w.put(v.phase2), w.put(v.amp_from), w.put(v.filter_from);
        w.put(v.filter.ic1), w.put(v.filter.ic2), w.put(v.last_amp);
        w.put(v.key), w.put(v.velocity), w.put(v.active);
      },
      [this](state_writer& w) {
        w.put_streams({&semitones_, &mix_, &detune_, &cutoff_, &resonance_, &env_octaves_});
      });
  }

  bool restore(std::span<const std::byte> state) override {
    return restore_voices(
      state, voices_,
      [](state_reader& r, voice& v) {
        r.get(v.on), r.get(v.off);
        r.get(v.phase1), r.get(v.phase2), r.get(v.amp_from), r.get(v.filter_from);
        r.get(v.filter.ic1), r.get(v.filter.ic2), r.get(v.last_amp);
        r.get(v.key), r.get(v.velocity), r.get(v.active);
        return true;
      },
      [this](state_reader& r) {
        return r.get_streams({&semitones_, &mix_, &detune_, &cutoff_, &resonance_, &env_octaves_});
      });
  }

private:
  struct voice {
    int64_t on = 0, off = -1;
    double phase1 = 0, phase2 = 0;
    double amp_from = 0, filter_from = 0; ///< envelope levels at the note-off
    tpt_svf filter;
    double last_amp = 0;                  ///< the amplitude envelope of the last frame
    uint8_t key = 0, velocity = 0, active = 0;
  };

  std::array<param_stream*, 6> streams() noexcept {
    return {&semitones_, &mix_, &detune_, &cutoff_, &resonance_, &env_octaves_};
  }

  // A voice's phases and filter are running values: after a jump, every
  // event is replayed from the start.
  static constexpr bool seeks_from_start = true;

  static double value(const double* stream, const param_stream& s, size_t i) noexcept {
    return stream ? stream[i] : s.constant();
  }

  double level(const adsr_shape& shape, const voice& v, double from, int64_t n) const noexcept {
    return v.off < 0 || n < v.off ? shape.held(n - v.on) : shape.released(n - v.off, from);
  }

  void render(int64_t from, int64_t to, int64_t block_start) noexcept {
    const double volume = volume_ / 127.0;
    const double rate = rate_;
    for (auto& v : voices_) {
      if (!v.active)
        continue;
      const double base = 440.0 * std::exp2((v.key - 69.0 + 2.0 * bend_ / 8192.0) / 12.0);
      const double gain = v.velocity / 127.0 * volume;
      for (int64_t n = from; n < to; ++n) {
        const auto i = static_cast<size_t>(n - block_start);
        const double semis = value(params_[0], semitones_, i);
        const double mix = std::clamp(value(params_[1], mix_, i), 0.0, 1.0);
        const double detune = value(params_[2], detune_, i);
        const double inc1 = base / rate;
        const double inc2 = base * std::exp2((semis + detune / 100.0) / 12.0) / rate;
        v.phase1 = wrap(v.phase1 + inc1);
        v.phase2 = wrap(v.phase2 + inc2);
        double o = oscillator(wave_, v.phase1, inc1);
        if (mix > 0.0)
          o = (1.0 - mix) * o + mix * oscillator(wave_, v.phase2, std::min(inc2, 0.5));
        const double fenv = level(filter_env_, v, v.filter_from, n);
        const double cutoff =
          std::clamp(value(params_[3], cutoff_, i) * std::exp2(value(params_[5], env_octaves_, i) * fenv),
                     20.0, 0.49 * rate);
        const double g = std::tan(std::numbers::pi * cutoff / rate);
        const double k = tpt_svf::damping(value(params_[4], resonance_, i));
        const double filtered = v.filter.low_pass(o, g, k);
        v.last_amp = level(amp_, v, v.amp_from, n);
        acc_[i] += gain * v.last_amp * filtered;
      }
    }
  }

  // Frees the voices silent from `frame` on (a release reaches 0 at its R-th
  // frame, off + R - 1), before the events of that frame pick slots.
  void retire(int64_t frame) noexcept {
    for (auto& v : voices_)
      if (v.active && v.off >= 0 && v.off + amp_.release - 1 <= frame)
        v.active = 0;
  }

  void bend_changed(int64_t) noexcept {} // render reads bend_ frame by frame

  // A free slot, the lowest; with none, the oldest released note, then the
  // oldest held one.
  void note_on(int64_t frame, uint8_t key, uint8_t velocity) noexcept {
    voice& slot =
      voice_for_note(voices_, [](const voice& v) { return std::pair{v.off < 0, v.on}; });
    slot = voice{};
    slot.on = frame;
    slot.key = key;
    slot.velocity = velocity;
    slot.active = 1;
  }

  void note_off(int64_t frame, uint8_t key) noexcept {
    voice* held = oldest_held(voices_, key);
    if (!held)
      return;
    held->amp_from = frame > held->on ? amp_.held(frame - 1 - held->on) : 0.0;
    held->filter_from = frame > held->on ? filter_env_.held(frame - 1 - held->on) : 0.0;
    held->off = frame;
  }

  void reset_voices() noexcept { std::fill(voices_.begin(), voices_.end(), voice{}); }

  uint32_t rate_;
  waveform wave_;
  adsr_shape amp_, filter_env_;
  param_stream semitones_, mix_, detune_, cutoff_, resonance_, env_octaves_;
  std::array<const double*, 6> params_{};
  std::vector<voice> voices_;
  std::vector<double> acc_;
};

} // namespace

template <class Sample>
std::unique_ptr<basic_node_processor<Sample>> make_synth(const render_graph& graph,
                                                    const render_node& node) {
  return std::make_unique<synth_node>(graph, node);
}

template std::unique_ptr<node_processor> make_synth<float>(const render_graph&, const render_node&);
template std::unique_ptr<node_processor_f64> make_synth<double>(const render_graph&,
                                                          const render_node&);

uint64_t synth_state_bytes(const render_node& node) noexcept {
  return synth_node::header_bytes +
         static_cast<uint64_t>(param_or(node, "voices", synth_node::default_voices)) *
           synth_node::voice_bytes +
         modulation_state_bytes(node);
}

} // namespace loophole::signal
