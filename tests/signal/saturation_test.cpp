// signal/oversampler.hpp and the saturation node: the half-band designs
// against their specification (computed from the taps), the round trip's
// latency and flatness, the curves against their formulas, and aliasing of
// an oversampled tanh against a bound derived from the stopband and the true
// harmonic amplitudes of the waveform.

#define BOOST_TEST_MODULE signal_saturation
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <complex>
#include <numbers>
#include <vector>

#include "signal/oversampler.hpp"
#include "tests/signal/node_rig.hpp"

using namespace loophole::signal;
using namespace loophole::signal::testing;

namespace {

constexpr uint32_t rates[] = {44100, 48000, 96000};
constexpr uint32_t blocks[] = {1, 7, 64, 1024};
constexpr double pi = std::numbers::pi;

// |H(f)| of a half-band stage, f normalised to its high rate.
double magnitude(const halfband_stage& s, double f) {
  double h = 0.5;
  for (size_t t = 0; t < s.odd_taps.size(); ++t)
    h += 2.0 * s.odd_taps[t] * std::cos(2.0 * pi * f * static_cast<double>(2 * t + 1));
  return std::abs(h);
}

// Passband edges each stage must keep (normalised to its high rate): stage 1
// 0.45 of the base rate, later stages what the one before lets through (0.55).
double passband_edge(size_t stage) {
  return stage == 0 ? 0.45 / 2.0 : 0.55 / static_cast<double>(2u << stage);
}

// The largest stopband gain of every stage.
double worst_stopband() {
  double worst = 0;
  const auto stages = halfband_stages();
  for (size_t s = 0; s < stages.size(); ++s)
    for (double f = 0.5 - passband_edge(s); f <= 0.5; f += 1e-5)
      worst = std::max(worst, magnitude(stages[s], f));
  return worst;
}

planar sine(uint16_t channels, int64_t frames, double freq, double rate, double amplitude) {
  planar x(channels, std::vector<float>(static_cast<size_t>(frames)));
  for (int64_t n = 0; n < frames; ++n)
    for (auto& ch : x)
      ch[static_cast<size_t>(n)] =
        static_cast<float>(amplitude * std::sin(2.0 * pi * freq * static_cast<double>(n) / rate));
  return x;
}

} // namespace

BOOST_AUTO_TEST_CASE(every_stage_meets_its_specification) {
  const auto stages = halfband_stages();
  BOOST_TEST_REQUIRE(stages.size() == 3u);
  for (size_t s = 0; s < stages.size(); ++s) {
    const double fp = passband_edge(s);
    double ripple_db = 0, stop_db = -1000;
    for (double f = 0; f <= fp; f += 1e-5)
      ripple_db = std::max(ripple_db, std::abs(20.0 * std::log10(magnitude(stages[s], f))));
    for (double f = 0.5 - fp; f <= 0.5; f += 1e-5)
      stop_db = std::max(stop_db, 20.0 * std::log10(magnitude(stages[s], f)));
    BOOST_TEST_MESSAGE("stage " << s + 1 << ": K " << stages[s].half_length << ", ripple "
                                << ripple_db << " dB, stopband " << stop_db << " dB");
    BOOST_TEST(ripple_db < 0.01 / 4); // four passes (up and down, two filters) stay under 0.01 dB
    BOOST_TEST(stop_db < -100.0);
  }
}

// A gain of 1 oversampled: a sine below 0.45 of the rate comes back delayed
// by exactly the reported latency, its amplitude within 0.01 dB.
BOOST_AUTO_TEST_CASE(round_trip_is_a_flat_pure_delay) {
  for (auto rate : rates)
    for (uint32_t factor : {2u, 4u, 8u}) {
      single_node_graph sg(rate, node_kind::saturation, 1, {1},
                           {{"curve", 2}, {"oversample", static_cast<double>(factor)}});
      const uint32_t latency = latency_frames(sg.g, sg.node());
      BOOST_TEST(latency == channel_oversampler::latency_frames(factor));
      for (double ratio : {0.01, 0.2, 0.45}) {
        // Hard clip at 1 of a signal of amplitude 0.5 is the identity.
        const double f = ratio * rate;
        const int64_t frames = 8192;
        auto p = sg.make(1024);
        auto y = run(*p, {sine(1, frames, f, rate, 0.5)}, 1, 0, frames, 1024);
        double worst = 0;
        for (int64_t n = 2000; n < frames; ++n) {
          const double expected =
            0.5 * std::sin(2.0 * pi * f * static_cast<double>(n - latency) / rate);
          worst = std::max(worst, std::abs(static_cast<double>(y[0][static_cast<size_t>(n)]) - expected));
        }
        // 0.01 dB of 0.5 is 5.8e-4; a wrong latency by one frame is far more.
        BOOST_TEST(worst < 5.8e-4, "rate " << rate << " x" << factor << " f " << f << ": "
                                           << worst);
      }
    }
}

BOOST_AUTO_TEST_CASE(curves_match_their_formulas_at_the_base_rate) {
  auto tanh_curve = [](double u) { return std::tanh(u); };
  auto cubic_curve = [](double u) {
    if (std::abs(u) >= 1)
      return u > 0 ? 1.0 : -1.0;
    return 1.5 * u - 0.5 * u * u * u;
  };
  auto hard_curve = [](double u) { return std::max(-1.0, std::min(1.0, u)); };
  for (auto rate : rates)
    for (double curve : {0.0, 1.0, 2.0})
      for (double drive_db : {0.0, 6.0, 24.0})
        for (double mix : {1.0, 0.3}) {
          const double out_db = -3.0;
          single_node_graph sg(rate, node_kind::saturation, 2, {2},
                               {{"curve", curve}, {"drive_db", drive_db}, {"mix", mix},
                                {"output_db", out_db}});
          const int64_t frames = 4000;
          planar x(2, std::vector<float>(frames));
          for (int64_t n = 0; n < frames; ++n) {
            x[0][static_cast<size_t>(n)] = static_cast<float>(std::sin(0.01 * static_cast<double>(n)) * 1.2);
            x[1][static_cast<size_t>(n)] = static_cast<float>(std::cos(0.003 * static_cast<double>(n)) * 0.7);
          }
          for (auto block : blocks) {
            auto p = sg.make(block);
            auto y = run(*p, {x}, 2, 0, frames, block);
            const double g = std::pow(10.0, drive_db / 20), level = std::pow(10.0, out_db / 20);
            double worst = 0;
            for (uint16_t c = 0; c < 2; ++c)
              for (size_t n = 0; n < static_cast<size_t>(frames); ++n) {
                const double xv = x[c][n];
                const double u = g * xv;
                const double shaped = curve == 0 ? tanh_curve(u) : curve == 1 ? cubic_curve(u) : hard_curve(u);
                const double expected = level * (mix * shaped + (1 - mix) * xv);
                worst = std::max(worst, std::abs(static_cast<double>(y[c][n]) - expected));
              }
            BOOST_TEST(worst <= 1.2e-7, "curve " << curve << ": " << worst); // float rounding
          }
        }
}

// tanh(g A sin) at 5 kHz with 24 dB of drive. Over one second every
// component (harmonics and their aliases, integer multiples of 100 Hz at these
// rates) falls on a DFT bin exactly. Non-harmonic energy in the passband
// (<= 0.45 fs) is aliasing; with 8x oversampling it is bounded by
//   (1) harmonics in the stopband of the cascade, times its worst stopband
//       gain squared: delta^2 sum_{k f0 > 0.45 fs} a_k^2 / 2;
//   (2) harmonics above the high rate's Nyquist folding (at the high rate)
//       into the passband and transition band, unattenuated;
//   (3) the images the upsampler leaves (at most delta A each, seven below
//       the high Nyquist) going through the curve, whose slope is at most g:
//       energy <= g^2 * 7 (delta A)^2 / 2;
//   (4) float rounding, a few ulps per sample times g: below 1e-12.
// a_k are the true harmonic amplitudes, from a 16384-point DFT of one period
// of the analytic waveform.
BOOST_AUTO_TEST_CASE(oversampled_tanh_aliasing_stays_below_the_bound) {
  const double f0 = 5000, amplitude = 0.5, drive_db = 24;
  const double g = std::pow(10.0, drive_db / 20);
  const size_t m = 16384;
  std::vector<double> a(m / 2, 0.0);
  for (size_t k = 1; k < m / 2; k += 2) {
    std::complex<double> acc = 0;
    for (size_t j = 0; j < m; ++j) {
      const double th = 2.0 * pi * static_cast<double>(j) / static_cast<double>(m);
      acc += std::tanh(g * amplitude * std::sin(th)) *
             std::polar(1.0, -th * static_cast<double>(k));
    }
    a[k] = 2.0 * std::abs(acc) / static_cast<double>(m);
  }
  const double delta = worst_stopband();
  BOOST_TEST_REQUIRE(delta < 1e-5);
  for (auto rate : rates) {
    const double fs = rate;
    const uint32_t factor = 8;
    const double high_nyquist = fs * factor / 2;
    double bound = 7.0 * g * g * delta * amplitude * delta * amplitude / 2.0 + 1e-12;
    for (size_t k = 1; k < a.size(); k += 2) {
      const double fk = f0 * static_cast<double>(k);
      if (fk <= 0.45 * fs)
        continue;
      double folded = std::fmod(fk, fs * factor);
      folded = std::min(folded, fs * factor - folded);
      const bool unattenuated = fk > high_nyquist && folded < 0.55 * fs;
      bound += (unattenuated ? 1.0 : delta * delta) * a[k] * a[k] / 2.0;
    }
    auto aliased_energy = [&](double oversample) {
      single_node_graph sg(rate, node_kind::saturation, 1, {1},
                           {{"curve", 0}, {"drive_db", drive_db}, {"oversample", oversample}});
      const auto n = static_cast<int64_t>(rate);
      const int64_t skip = 1000;
      auto p = sg.make(1024);
      auto y = run(*p, {sine(1, n + skip, f0, fs, amplitude)}, 1, 0, n + skip, 1024);
      // DFT at every multiple of 100 Hz up to 0.45 fs that is not a harmonic.
      std::vector<double> cosine(rate), sinus(rate);
      for (uint32_t i = 0; i < rate; ++i) {
        cosine[i] = std::cos(2.0 * pi * i / fs);
        sinus[i] = std::sin(2.0 * pi * i / fs);
      }
      double energy = 0;
      for (uint32_t f = 100; f <= 0.45 * fs; f += 100) {
        if (f % 5000 == 0 && (f / 5000) % 2 == 1)
          continue;
        double re = 0, im = 0;
        uint64_t phase = 0;
        for (int64_t i = 0; i < n; ++i) {
          const double v = y[0][static_cast<size_t>(i + skip)];
          re += v * cosine[phase];
          im -= v * sinus[phase];
          phase = (phase + f) % rate;
        }
        const double amp = 2.0 * std::hypot(re, im) / static_cast<double>(n);
        energy += amp * amp / 2.0;
      }
      return energy;
    };
    const double at_8x = aliased_energy(8), at_1x = aliased_energy(1);
    BOOST_TEST_MESSAGE(rate << " Hz: aliased energy 8x " << 10 * std::log10(at_8x) << " dB, 1x "
                            << 10 * std::log10(at_1x) << " dB, bound "
                            << 10 * std::log10(bound) << " dB");
    BOOST_TEST(at_8x <= bound);
    BOOST_TEST(at_1x > 1000.0 * bound);
  }
}

BOOST_AUTO_TEST_CASE(oversampled_output_is_block_size_independent_and_restores) {
  for (auto rate : rates)
    for (double factor : {2.0, 4.0, 8.0}) {
      single_node_graph sg(rate, node_kind::saturation, 2, {2},
                           {{"curve", 1}, {"drive_db", 12}, {"oversample", factor}});
      sg.node().automation.push_back(
        {"drive_db", {{0, 0.0, curve_kind::linear}, {3000, 30.0, curve_kind::linear}}, {}});
      modulation follower;
      follower.kind = modulator_kind::follower;
      follower.depth = 0.5;
      follower.attack_frames = 10;
      follower.release_frames = 100;
      sg.node().automation.push_back({"mix", {}, {follower}});
      const int64_t frames = 5000;
      const auto x = sine(2, frames, 3000, rate, 0.8);
      auto reference_p = sg.make(4096);
      const auto reference = run(*reference_p, {x}, 2, 0, frames, 4096);
      for (auto block : blocks) {
        auto p = sg.make(block);
        BOOST_TEST(same_bits(run(*p, {x}, 2, 0, frames, block), reference));
      }
      // Stop at 2100, snapshot, restore into a fresh processor, go on.
      auto first = sg.make(64);
      auto head = run(*first, {x}, 2, 0, 2100, 64);
      const auto state = first->snapshot();
      BOOST_TEST(state.size() == state_bytes(sg.g, sg.node()));
      auto second = sg.make(64);
      BOOST_TEST_REQUIRE(second->restore(state));
      planar tail_in(2);
      for (size_t c = 0; c < 2; ++c)
        tail_in[c].assign(x[c].begin() + 2100, x[c].end());
      auto tail = run(*second, {tail_in}, 2, 2100, frames - 2100, 64);
      for (size_t c = 0; c < 2; ++c)
        head[c].insert(head[c].end(), tail[c].begin(), tail[c].end());
      BOOST_TEST(same_bits(head, reference));
    }
}
