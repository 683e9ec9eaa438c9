// actors/groove.hpp: swing moves the odd steps of the grid by (2 swing - 1) grid and nothing
// else; per-step timing and velocity offsets cycle; a beat off the grid moves with its nearest
// step; through the tempo map a swung 16th lands on the frame of its moved beat.

#define BOOST_TEST_MODULE actors_groove
#define BOOST_TEST_DYN_LINK
#include "actors/groove.hpp"
#include "actors/tempo_map.hpp"

#include <boost/test/unit_test.hpp>
#include <cmath>

using loophole::actors::apply_groove;
using loophole::actors::groove_step;
using loophole::messages::groove_spec;

namespace {

groove_spec swing_16ths(double swing) {
  groove_spec g;
  g.name = "swing";
  g.grid = 0.25;
  g.swing = swing;
  return g;
}

} // namespace

BOOST_AUTO_TEST_CASE(swing_60_moves_the_off_beat_16ths_by_0_05_beat_and_leaves_the_on_beats) {
  const auto g = swing_16ths(0.6);
  for (int step = 0; step < 64; ++step) {
    const double beat = step * 0.25;
    const auto moved = apply_groove(g, beat, 100);
    BOOST_TEST_CONTEXT("step " << step) {
      if (step % 2 == 0)
        BOOST_TEST(moved.beat == beat); // untouched, bit for bit
      else // the off-step falls at 0.6 of its pair of 16ths (half a beat) instead of 0.5
        BOOST_TEST(std::abs(moved.beat - (beat + 0.05)) <= 1e-12);
      BOOST_TEST(moved.velocity == 100);
    }
  }
  // Straight swing moves nothing.
  for (int step = 0; step < 8; ++step)
    BOOST_TEST(apply_groove(swing_16ths(0.5), step * 0.25, 1).beat == step * 0.25);
}

BOOST_AUTO_TEST_CASE(a_beat_off_the_grid_moves_with_its_nearest_step) {
  const auto g = swing_16ths(0.75);
  // 0.3 is nearest step 1 (0.25), 0.37 nearest step 1, 0.38 nearest step 2; halves go up.
  BOOST_TEST(groove_step(g, 0.3) == 1);
  BOOST_TEST(groove_step(g, 0.37) == 1);
  BOOST_TEST(groove_step(g, 0.38) == 2);
  BOOST_TEST(groove_step(g, 0.125) == 1);
  BOOST_TEST(std::abs(apply_groove(g, 0.3, 0).beat - (0.3 + 0.125)) <= 1e-12);
  BOOST_TEST(apply_groove(g, 0.38, 0).beat == 0.38);
}

BOOST_AUTO_TEST_CASE(timing_and_velocity_offsets_cycle_per_step) {
  groove_spec g;
  g.grid = 0.5; // eighths
  g.timing = {0.0, 0.1, -0.2};
  g.velocity = {5, -5};
  for (size_t step = 0; step < 12; ++step) {
    const double beat = static_cast<double>(step) * 0.5;
    const auto moved = apply_groove(g, beat, 64);
    BOOST_TEST_CONTEXT("step " << step) {
      BOOST_TEST(std::abs(moved.beat - (beat + g.timing[step % 3] * 0.5)) <= 1e-12);
      BOOST_TEST(moved.velocity == 64 + g.velocity[step % 2]);
    }
  }
}

BOOST_AUTO_TEST_CASE(swing_and_timing_add_up) {
  auto g = swing_16ths(0.6);
  g.timing = {0.0, 0.2};
  const auto moved = apply_groove(g, 1.25, 90); // step 5: odd
  BOOST_TEST(std::abs(moved.beat - (1.25 + 0.05 + 0.2 * 0.25)) <= 1e-12);
}

BOOST_AUTO_TEST_CASE(a_swung_16th_lands_on_the_frame_of_its_moved_beat_at_120_bpm_48_khz) {
  const loophole::actors::tempo_map tempo{120.0};
  const auto g = swing_16ths(0.6);
  for (int step = 1; step < 64; step += 2) {
    const double beat = step * 0.25;
    const auto frame = std::llround(tempo.seconds_at(apply_groove(g, beat, 0).beat) * 48000);
    BOOST_TEST(frame == std::llround(tempo.seconds_at(beat + 0.05) * 48000));
    // 120 bpm: 24000 frames a beat, so 0.05 beat is 1200 frames.
    BOOST_TEST(frame == step * 6000 + 1200);
  }
}
