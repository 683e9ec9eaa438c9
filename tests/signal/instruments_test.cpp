// The synth and sampler instruments (signal/synth_node.cpp,
// signal/sampler_node.cpp): pitch, the filter against its transfer function,
// envelope timing, sample playback bit-exact at the root key and at double
// speed an octave up, note-ons on their frame whatever the block size, voice
// stealing, and snapshot/restore mid-note.

#define BOOST_TEST_MODULE signal_instruments
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <complex>
#include <numbers>
#include <vector>

#include "signal/synth_node.hpp"
#include "tests/signal/node_rig.hpp"

using namespace loophole::signal;
using namespace loophole::signal::testing;

namespace {

constexpr uint32_t rates[] = {44100, 48000, 96000};
constexpr uint32_t blocks[] = {1, 7, 64, 1024};
constexpr double pi = std::numbers::pi;

midi_event on(int64_t frame, uint8_t key, uint8_t velocity) {
  return {frame, midi_status::note_on, key, velocity};
}
midi_event off(int64_t frame, uint8_t key) {
  return {frame, midi_status::note_off, key, 0};
}

single_node_graph synth(uint32_t rate, std::vector<parameter> params, std::vector<midi_event> events) {
  single_node_graph sg(rate, node_kind::synth, 2, {}, std::move(params));
  sg.node().events = std::move(events);
  return sg;
}

single_node_graph sampler(uint32_t rate, const std::vector<float>& sample, uint16_t channels,
                          std::vector<parameter> params, std::vector<midi_event> events) {
  single_node_graph sg(rate, node_kind::sampler, 2, {}, std::move(params));
  const auto length = static_cast<int64_t>(sample.size() / channels);
  sg.g.media.push_back({"sample", channels, length});
  sg.node().media = media_region{0, 0, 0, length, 0, 0};
  sg.node().embedded_audio = sample;
  sg.node().events = std::move(events);
  return sg;
}

// Amplitude of the component at `freq` in y[from, to): least squares on sin and cos.
double amplitude_at(const std::vector<float>& y, size_t from, size_t to, double freq, double rate) {
  double ss = 0, cc = 0, sc = 0, ys = 0, yc = 0;
  for (size_t n = from; n < to; ++n) {
    const double w = 2 * pi * freq * static_cast<double>(n) / rate;
    const double s = std::sin(w), c = std::cos(w), v = y[n];
    ss += s * s, cc += c * c, sc += s * c, ys += v * s, yc += v * c;
  }
  const double det = ss * cc - sc * sc;
  const double a = (ys * cc - yc * sc) / det, b = (yc * ss - ys * sc) / det;
  return std::hypot(a, b);
}

} // namespace

BOOST_AUTO_TEST_CASE(a_held_note_has_the_exact_pitch) {
  for (auto rate : rates)
    for (int key_number : {33, 57, 69, 81, 96}) {
      const auto key = static_cast<uint8_t>(key_number);
      auto sg = synth(rate, {{"waveform", 3}, {"cutoff_hz", 20000}}, {on(0, key, 127)});
      const auto frames = static_cast<int64_t>(rate);
      auto p = sg.make(1024);
      const auto y = run(*p, {}, 2, 0, frames, 1024);
      double first = -1, last = -1;
      int crossings = 0;
      for (size_t n = 2000; n < y[0].size(); ++n)
        if (y[0][n - 1] < 0 && y[0][n] >= 0) {
          const double a = y[0][n - 1], b = y[0][n];
          const double t = static_cast<double>(n - 1) + a / (a - b);
          if (first < 0)
            first = t;
          last = t;
          ++crossings;
        }
      const double measured = (crossings - 1) / (last - first) * rate;
      const double expected = 440.0 * std::exp2((key - 69.0) / 12.0);
      const double cents = 1200.0 * std::log2(measured / expected);
      BOOST_TEST(std::abs(cents) < 0.01, "rate " << rate << " key " << int{key} << ": " << cents
                                                 << " cents");
    }
}

// A sine held through the low-pass: its steady-state amplitude is |H(f)| of
// the analytic transfer function (the bilinear transform of 1/(s^2 + k s + 1)).
BOOST_AUTO_TEST_CASE(the_filter_follows_its_transfer_function) {
  for (auto rate : rates)
    for (double resonance : {0.0, 0.6}) {
      const double f = 440.0, k = std::numbers::sqrt2 * (1 - resonance);
      for (int i = 0; i < 20; ++i) {
        // Cutoffs from a fifth of the note to 30 times it.
        const double fc = f / 5.0 * std::pow(150.0, i / 19.0);
        auto sg = synth(rate, {{"waveform", 3}, {"cutoff_hz", fc}, {"resonance", resonance}},
                        {on(0, 69, 127)});
        const auto frames = static_cast<int64_t>(rate);
        auto p = sg.make(512);
        const auto y = run(*p, {}, 2, 0, frames, 512);
        const double g = std::tan(pi * fc / rate), t = std::tan(pi * f / rate);
        const double expected = 1.0 / std::abs(std::complex<double>(1 - (t / g) * (t / g), k * t / g));
        const double measured = amplitude_at(y[0], static_cast<size_t>(frames / 2), static_cast<size_t>(frames), f, rate);
        BOOST_TEST(std::abs(measured / expected - 1) < 1e-5,
                   "rate " << rate << " fc " << fc << " res " << resonance << ": " << measured
                           << " vs " << expected);
      }
    }
}

// The ADSR's closed form against its definition, frame by frame.
BOOST_AUTO_TEST_CASE(envelope_stages_last_their_frames) {
  adsr_shape e{100, 50, 30, 0.25};
  for (int64_t k = 0; k < 100; ++k)
    BOOST_TEST(e.held(k) == static_cast<double>(k + 1) / 100.0);
  BOOST_TEST(e.held(99) == 1.0);
  for (int64_t j = 0; j < 50; ++j)
    BOOST_TEST(std::abs(e.held(100 + j) - (1.0 - 0.75 * static_cast<double>(j + 1) / 50.0)) < 1e-15);
  BOOST_TEST(e.held(149) == 0.25);
  BOOST_TEST(e.held(100000) == 0.25);
  for (int64_t j = 0; j < 29; ++j)
    BOOST_TEST(std::abs(e.released(j, 0.5) - 0.5 * (1.0 - static_cast<double>(j + 1) / 30.0)) < 1e-15);
  BOOST_TEST(e.released(29, 0.5) == 0.0);
}

// On the node: sound from the note-on frame exactly, silence from the last
// frame of the release on, for every block size.
BOOST_AUTO_TEST_CASE(notes_start_and_end_on_their_frames) {
  for (auto rate : rates)
    for (auto block : blocks) {
      const int64_t note_on = 1001, note_off = 3003, release = 500;
      auto sg = synth(rate,
                      {{"waveform", 0}, {"attack_frames", 64}, {"decay_frames", 100},
                       {"sustain", 0.5}, {"release_frames", static_cast<double>(release)}},
                      {on(note_on, 60, 100), off(note_off, 60)});
      auto p = sg.make(block);
      const auto y = run(*p, {}, 2, 0, 5000, block);
      int64_t first = -1, last = -1;
      for (int64_t n = 0; n < 5000; ++n)
        if (y[0][static_cast<size_t>(n)] != 0.0f) {
          if (first < 0)
            first = n;
          last = n;
        }
      BOOST_TEST(first == note_on);
      BOOST_TEST(last == note_off + release - 2); // level 0 on the release's last frame
    }
}

BOOST_AUTO_TEST_CASE(synth_output_is_block_size_independent_and_restores) {
  for (auto rate : rates) {
    auto sg = synth(rate,
                    {{"waveform", 0}, {"osc_mix", 0.4}, {"osc2_semitones", 7}, {"detune_cents", 8},
                     {"cutoff_hz", 800}, {"resonance", 0.7}, {"filter_env_octaves", 3},
                     {"filter_attack_frames", 300}, {"filter_decay_frames", 2000},
                     {"filter_sustain", 0.2}, {"attack_frames", 50}, {"release_frames", 800},
                     {"voices", 3}},
                    {on(100, 60, 90), on(100, 64, 80), on(700, 67, 70), off(1500, 64),
                     on(1800, 72, 127), {2000, midi_status::pitch_bend, 0, 80}, off(3000, 60),
                     off(3500, 67), off(3600, 72)});
    sg.node().automation.push_back(
      {"cutoff_hz", {{0, 300.0, curve_kind::exponential}, {4000, 6000.0, curve_kind::linear}}, {}});
    const int64_t frames = 5000;
    auto rp = sg.make(4096);
    const auto reference = run(*rp, {}, 2, 0, frames, 4096);
    for (auto block : blocks) {
      auto p = sg.make(block);
      BOOST_TEST(same_bits(run(*p, {}, 2, 0, frames, block), reference));
    }
    for (int64_t cut : {int64_t{750}, int64_t{2001}}) {
      auto first = sg.make(64);
      auto out = run(*first, {}, 2, 0, cut, 64);
      const auto state = first->snapshot();
      BOOST_TEST(state.size() == state_bytes(sg.g, sg.node()));
      auto second = sg.make(64);
      BOOST_TEST_REQUIRE(second->restore(state));
      const auto tail = run(*second, {}, 2, cut, frames - cut, 64);
      for (size_t c = 0; c < 2; ++c)
        out[c].insert(out[c].end(), tail[c].begin(), tail[c].end());
      BOOST_TEST(same_bits(out, reference));
    }
  }
}

BOOST_AUTO_TEST_CASE(the_root_key_plays_the_sample_bit_exactly) {
  std::vector<float> sample(3000);
  for (size_t i = 0; i < sample.size(); ++i)
    sample[i] = static_cast<float>(std::sin(0.05 * static_cast<double>(i)) *
                                   std::exp(-static_cast<double>(i) / 1000.0));
  for (auto rate : rates)
    for (auto block : blocks) {
      const int64_t note = 777;
      auto sg = sampler(rate, sample, 1, {{"root_key", 64}}, {on(note, 64, 100)});
      auto p = sg.make(block);
      const auto y = run(*p, {}, 2, 0, 5000, block);
      bool exact = true;
      for (int64_t n = 0; n < 5000; ++n) {
        const int64_t k = n - note;
        const float expected =
          k < 0 || k >= 3000 ? 0.0f
                             : static_cast<float>(static_cast<double>(sample[static_cast<size_t>(k)]) *
                                                  (100.0 / 127.0));
        exact = exact && y[0][static_cast<size_t>(n)] == expected && y[1][static_cast<size_t>(n)] == expected;
      }
      BOOST_TEST(exact, "rate " << rate << " block " << block);
    }
}

BOOST_AUTO_TEST_CASE(an_octave_up_plays_at_double_speed) {
  for (auto rate : rates) {
    const double f = 441.0;
    std::vector<float> sample(20000);
    for (size_t i = 0; i < sample.size(); ++i)
      sample[i] = static_cast<float>(std::sin(2 * pi * f * static_cast<double>(i) / rate));
    for (int interval : {12, 7, -5}) {
      const int64_t note = 50;
      auto sg = sampler(rate, sample, 1, {{"root_key", 60}},
                        {on(note, static_cast<uint8_t>(60 + interval), 127)});
      auto p = sg.make(256);
      const auto y = run(*p, {}, 2, 0, 8000, 256);
      const double ratio = std::exp2(interval / 12.0);
      double worst = 0;
      // From the first position past 1: before it the interpolator rightly reads the silence
      // before the sample, where the analytic sine goes on.
      for (int64_t n = note + 2; n < 8000; ++n) {
        const double expected = std::sin(2 * pi * f * ratio * static_cast<double>(n - note) / rate);
        worst = std::max(worst, std::abs(static_cast<double>(y[0][static_cast<size_t>(n)]) - expected));
      }
      // An octave up reads every other sample: float rounding only. Other
      // intervals interpolate (Catmull-Rom's error at 441 Hz is a few 1e-6).
      BOOST_TEST(worst < (interval == 12 ? 1e-7 : 5e-5), "rate " << rate << " interval " << interval << ": " << worst);
    }
  }
}

BOOST_AUTO_TEST_CASE(sampler_steals_the_oldest_voice_and_restores) {
  std::vector<float> sample(4000, 0.0f);
  for (size_t i = 0; i < sample.size(); ++i)
    sample[i] = static_cast<float>(std::cos(0.01 * static_cast<double>(i)));
  auto sg = sampler(48000, sample, 1, {{"root_key", 60}, {"voices", 2}, {"release_frames", 100}},
                    {on(0, 60, 100), on(500, 60, 80), on(1000, 60, 60), off(2500, 60)});
  auto rp = sg.make(4096);
  const auto reference = run(*rp, {}, 2, 0, 5000, 4096);
  // From frame 1000 on, the first note (the oldest) is gone.
  double worst = 0;
  for (size_t n = 1000; n < 2500; ++n) {
    const double expected = (80.0 * static_cast<double>(sample[n - 500]) +
                             60.0 * static_cast<double>(sample[n - 1000])) / 127.0;
    worst = std::max(worst, std::abs(static_cast<double>(reference[0][n]) - expected));
  }
  BOOST_TEST(worst < 1e-6);
  for (auto block : blocks) {
    auto p = sg.make(block);
    BOOST_TEST(same_bits(run(*p, {}, 2, 0, 5000, block), reference));
  }
  auto first = sg.make(64);
  auto out = run(*first, {}, 2, 0, 2550, 64);
  const auto state = first->snapshot();
  BOOST_TEST(state.size() == state_bytes(sg.g, sg.node()));
  auto second = sg.make(64);
  BOOST_TEST_REQUIRE(second->restore(state));
  const auto tail = run(*second, {}, 2, 2550, 5000 - 2550, 64);
  for (size_t c = 0; c < 2; ++c)
    out[c].insert(out[c].end(), tail[c].begin(), tail[c].end());
  BOOST_TEST(same_bits(out, reference));
}
