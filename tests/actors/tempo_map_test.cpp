// actors/tempo_map.hpp: tempo ramps and jumps against closed forms computed here in long
// double (the naive root, not the engine's), the inverse map, and bars and beats across
// time-signature changes.

#define BOOST_TEST_MODULE actors_tempo_map
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "actors/tempo_map.hpp"

using namespace loophole::actors;

namespace {

/// Seconds at beat b of a ramp from t0 to t1 bpm over `span` beats, tempo linear in time:
/// b(t) = (t0 t + a t^2 / 2) / 60 solved for t with the textbook root.
long double ramp_seconds(long double t0, long double t1, long double span, long double b) {
  const long double d = 120.0L * span / (t0 + t1);
  const long double a = (t1 - t0) / d;
  return (-t0 + std::sqrt(t0 * t0 + 120.0L * a * b)) / a;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_120_to_140_ramp_over_8_bars_lands_every_beat_within_a_sample) {
  for (uint32_t rate : {44100u, 48000u, 96000u}) {
    BOOST_TEST_CONTEXT("rate " << rate) {
      // 4 constant bars at 120, then 8 bars (32 beats) ramping to 140, then 140.
      tempo_map map(120.0, {{16.0, 120.0, false}, {48.0, 140.0, true}});
      for (int i = 0; i <= 64 * 4; ++i) {
        const double b = i * 0.25;
        long double expected;
        if (b <= 16)
          expected = b * 0.5L;
        else if (b <= 48)
          expected = 8.0L + ramp_seconds(120, 140, 32, b - 16);
        else
          expected = 8.0L + ramp_seconds(120, 140, 32, 32) + (b - 48) * 60.0L / 140.0L;
        const auto want = std::llround(expected * rate);
        const auto got = std::llround(map.seconds_at(b) * rate);
        BOOST_TEST_REQUIRE(std::llabs(got - want) <= 1, "beat " << b << ": " << got << " vs "
                                                                 << want);
        // The inverse map round-trips.
        BOOST_TEST_REQUIRE(std::abs(map.beat_at(map.seconds_at(b)) - b) < 1e-9, "beat " << b);
      }
      // The ramp lasts 120 * 32 / 260 s and reaches 140 bpm at its end, 130 halfway in time.
      BOOST_TEST(std::abs(map.seconds_at(48) - 8.0 - 120.0 * 32 / 260) < 1e-9);
      BOOST_TEST(std::abs(map.bpm_at(48) - 140.0) < 1e-9);
      BOOST_TEST(std::abs(map.bpm_at(map.beat_at(8.0 + 60.0 * 32 / 260)) - 130.0) < 1e-9);
      BOOST_TEST(map.bpm_at(10) == 120.0);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_slowing_ramp_and_jumps_invert_exactly) {
  tempo_map map(90.0, {{8.0, 60.0, true}, {12.0, 150.0, false}, {16.0, 150.0, false},
                       {20.0, 45.5, true}});
  for (int i = -8; i <= 400; ++i) {
    const double b = i * 0.1;
    BOOST_TEST_REQUIRE(std::abs(map.beat_at(map.seconds_at(b)) - b) < 1e-9, "beat " << b);
  }
  for (int i = 0; i <= 400; ++i) {
    const double s = i * 0.05;
    BOOST_TEST_REQUIRE(std::abs(map.seconds_at(map.beat_at(s)) - s) < 1e-9, "second " << s);
  }
  // A jump: the beat after it runs at the new tempo.
  BOOST_TEST(std::abs((map.seconds_at(13) - map.seconds_at(12)) - 60.0 / 150.0) < 1e-12);
  // Seconds grow with beats everywhere.
  for (int i = 0; i < 400; ++i)
    BOOST_TEST_REQUIRE(map.seconds_at((i + 1) * 0.1) > map.seconds_at(i * 0.1));
}

BOOST_AUTO_TEST_CASE(a_constant_map_is_the_plain_formula) {
  tempo_map map(112.0);
  for (double b : {0.0, 1.0, 4.5, 1000.25})
    BOOST_TEST(map.seconds_at(b) == b * 60.0 / 112.0);
  BOOST_TEST(map.seconds_at(-2.0) == -2.0 * 60.0 / 112.0);
}

BOOST_AUTO_TEST_CASE(bad_maps_are_refused_naming_the_point) {
  auto refused_at = [](size_t index, auto make) {
    try {
      make();
      BOOST_ERROR("accepted");
    } catch (const timebase_error& e) {
      BOOST_TEST(e.index == index, e.what());
    }
  };
  refused_at(1, [] { tempo_map m(120, {{4, 100, false}, {4, 90, false}}); });
  refused_at(0, [] { tempo_map m(120, {{0, 100, false}}); });
  refused_at(0, [] { tempo_map m(120, {{4, 0, true}}); });
  refused_at(0, [] { tempo_map m(0); });
  refused_at(0, [] { meter_map m(4, 4, {{1, 3, 4}}); });
  refused_at(1, [] { meter_map m(4, 4, {{3, 3, 4}, {5, 7, 3}}); });
}

BOOST_AUTO_TEST_CASE(bars_and_beats_follow_time_signature_changes) {
  // 4/4 for bars 1-8, 7/8 from bar 9, 3/2 from bar 11.
  meter_map m(4, 4, {{9, 7, 8}, {11, 3, 2}});
  BOOST_TEST(m.quarter_beats_at(1, 1) == 0.0);
  BOOST_TEST(m.quarter_beats_at(2, 1) == 4.0);
  BOOST_TEST(m.quarter_beats_at(8, 4.5) == 31.5);
  BOOST_TEST(m.quarter_beats_at(9, 1) == 32.0);
  BOOST_TEST(m.quarter_beats_at(9, 3) == 33.0);   // eighths
  BOOST_TEST(m.quarter_beats_at(10, 1) == 35.5);  // a 7/8 bar is 3.5 quarters
  BOOST_TEST(m.quarter_beats_at(11, 1) == 39.0);
  BOOST_TEST(m.quarter_beats_at(11, 2) == 41.0);  // halves
  BOOST_TEST(m.quarter_beats_at(12, 1) == 45.0);
  for (double q : {0.0, 3.0, 31.5, 32.0, 33.25, 35.5, 39.0, 44.0, 45.0, 100.0}) {
    const auto [bar, beat] = m.bar_beat_at(q);
    BOOST_TEST(m.quarter_beats_at(bar, beat) == q, "quarter " << q);
    BOOST_TEST(beat >= 1.0);
  }
  const auto [bar, beat] = m.bar_beat_at(33.0);
  BOOST_TEST(bar == 9);
  BOOST_TEST(beat == 3.0);
}
