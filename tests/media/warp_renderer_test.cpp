#define BOOST_TEST_MODULE media_warp_renderer
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <numbers>
#include <set>

#include "media/media_error.hpp"
#include "media/warp_renderer.hpp"
#include "tests/support/pitch.hpp"

using namespace loophole::media;
using loophole::test::cents;
using loophole::test::rising_crossings;
using loophole::test::tone_frequency;

namespace {

constexpr uint32_t rate = 48000;

// Channel c plays freqs[c][0] up to frame `change`, then freqs[c][1], with a
// continuous phase.
decoded_media tones(int64_t frames, std::vector<std::pair<double, double>> freqs,
                    int64_t change = -1) {
  decoded_media m;
  m.channels = static_cast<uint16_t>(freqs.size());
  m.frames = frames;
  for (const auto& [f0, f1] : freqs) {
    double phase = 0.0;
    for (int64_t i = 0; i < frames; ++i) {
      m.samples.push_back(static_cast<float>(0.5 * std::sin(phase)));
      phase += 2.0 * std::numbers::pi * (change >= 0 && i >= change ? f1 : f0) / rate;
    }
  }
  return m;
}

const float* channel(const decoded_media& m, int c) {
  return m.samples.data() + c * m.frames;
}

// The tone of frames [first, last), away from their edges by a tenth.
double pitch(const decoded_media& m, int c, int64_t first, int64_t last) {
  const auto margin = (last - first) / 10;
  return tone_frequency(channel(m, c), first + margin, last - margin, rate);
}

// The RMS level of channel c over frames [first, last).
double rms(const decoded_media& m, int c, int64_t first, int64_t last) {
  double sum = 0.0;
  for (int64_t i = first; i < last; ++i)
    sum += static_cast<double>(channel(m, c)[i]) * static_cast<double>(channel(m, c)[i]);
  return std::sqrt(sum / static_cast<double>(last - first));
}

// Where the period of the tone drops below `period` frames for good: the
// first crossing of the run of short periods that lasts to `last`.
double switch_point(const decoded_media& m, double period, int64_t last) {
  const auto t = rising_crossings(channel(m, 0), 0, last);
  size_t k = t.size() - 1;
  while (k > 0 && t[k] - t[k - 1] < period)
    --k;
  return t[k];
}

} // namespace

BOOST_AUTO_TEST_CASE(stretching_by_five_quarters_keeps_the_pitch_and_the_length) {
  const int64_t n = 2 * rate;
  const auto src = tones(n, {{1000.0, 1000.0}, {1500.0, 1500.0}});
  const auto target = std::llround(1.25 * static_cast<double>(n));
  const auto out = render_warp(src, warp_mode::stretch, {{0, 0}, {n, target}}, rate);
  BOOST_TEST(out.frames == target);
  BOOST_TEST(out.channels == 2);
  BOOST_TEST(out.samples.size() == static_cast<size_t>(target) * 2);
  const auto left = pitch(out, 0, 0, target), right = pitch(out, 1, 0, target);
  BOOST_TEST_MESSAGE("stretch 1.25: " << left << " Hz (" << cents(left, 1000.0) << " cents), "
                                      << right << " Hz");
  BOOST_TEST(std::abs(cents(left, 1000.0)) < 1.0);
  BOOST_TEST(std::abs(cents(right, 1500.0)) < 1.0);
  // The audio fills the length: its first and last 20 ms are the tone within
  // 3 dB of its level (the stretcher's windows soften the very edges by up to
  // 1.7 dB), not silence padding a short result.
  const double level = 0.5 / std::sqrt(2.0);
  const auto head = rms(out, 0, 0, rate / 50), tail = rms(out, 0, target - rate / 50, target);
  BOOST_TEST_MESSAGE("level of the first and last 20 ms: " << head / level << ", "
                                                           << tail / level);
  BOOST_TEST(std::abs(20.0 * std::log10(head / level)) < 3.0);
  BOOST_TEST(std::abs(20.0 * std::log10(tail / level)) < 3.0);
}

BOOST_AUTO_TEST_CASE(varispeed_by_five_quarters_lowers_the_pitch_by_that_ratio) {
  const int64_t n = 2 * rate;
  const auto src = tones(n, {{1000.0, 1000.0}});
  const auto target = std::llround(1.25 * static_cast<double>(n));
  const auto out = render_warp(src, warp_mode::varispeed, {{0, 0}, {n, target}}, rate);
  BOOST_TEST(out.frames == target);
  const auto f = pitch(out, 0, 0, target);
  BOOST_TEST_MESSAGE("varispeed 1.25: " << f << " Hz (" << cents(f, 800.0) << " cents off 800)");
  BOOST_TEST(std::abs(cents(f, 1000.0 / 1.25)) < 1.0);
}

BOOST_AUTO_TEST_CASE(a_map_of_two_segments_keeps_each_segment_s_length) {
  // 1 kHz for 1 s, then 1.5 kHz for 1 s, starting 0.25 s into the media;
  // the first second is slowed to 1.5 s, the second sped up to 0.8 s.
  const int64_t lead = rate / 4, change = lead + rate, n = change + rate;
  const auto src = tones(n, {{1000.0, 1500.0}}, change);
  const int64_t t1 = rate * 3 / 2, t2 = t1 + rate * 4 / 5;
  const std::vector<warp_point> map{{lead, 0}, {change, t1}, {n, t2}};
  for (auto mode : {warp_mode::stretch, warp_mode::varispeed}) {
    const auto out = render_warp(src, mode, map, rate);
    BOOST_TEST(out.frames == t2);
    const double speed1 = mode == warp_mode::varispeed ? 1.0 / 1.5 : 1.0;
    const double speed2 = mode == warp_mode::varispeed ? 1.0 / 0.8 : 1.0;
    const auto f1 = pitch(out, 0, 0, t1), f2 = pitch(out, 0, t1, t2);
    const auto at = switch_point(out, rate / (1000.0 * speed1 + 1500.0 * speed2) * 2.0, t2);
    BOOST_TEST_MESSAGE(to_string(mode) << ": " << f1 << " Hz, " << f2 << " Hz, the change at "
                                       << at << " (mapped to " << t1 << ")");
    BOOST_TEST(std::abs(cents(f1, 1000.0 * speed1)) < 1.0);
    BOOST_TEST(std::abs(cents(f2, 1500.0 * speed2)) < 1.0);
    // Within one cycle (varispeed) or 5 ms (stretch, whose windows smear a
    // change) of where the map puts it.
    const double tolerance = mode == warp_mode::varispeed ? rate / (1000.0 * speed1) : rate / 200.0;
    BOOST_TEST(std::abs(at - static_cast<double>(t1)) < tolerance);
  }
}

BOOST_AUTO_TEST_CASE(the_same_input_gives_the_same_bits) {
  const auto src = tones(rate, {{440.0, 440.0}, {660.0, 660.0}});
  const std::vector<warp_point> map{{100, 0}, {30000, 40000}, {rate, 50000}};
  for (auto mode : {warp_mode::stretch, warp_mode::varispeed})
    BOOST_TEST(render_warp(src, mode, map, rate).samples ==
               render_warp(src, mode, map, rate).samples);
}

BOOST_AUTO_TEST_CASE(maps_that_cannot_be_rendered_are_refused) {
  BOOST_TEST(check_warp_map({{0, 0}, {100, 125}}, 100).empty());
  BOOST_TEST(check_warp_map({{0, 0}}, 100).find("two points") != std::string::npos);
  BOOST_TEST(check_warp_map({{0, 5}, {100, 125}}, 100).find("clip's start") != std::string::npos);
  BOOST_TEST(check_warp_map({{0, 0}, {101, 125}}, 100).find("outside the media") !=
             std::string::npos);
  BOOST_TEST(check_warp_map({{0, 0}, {50, 60}, {50, 70}}, 100).find("point 2 is not after") !=
             std::string::npos);
  BOOST_TEST(check_warp_map({{0, 0}, {50, 60}, {60, 60}}, 100).find("point 2 is not after") !=
             std::string::npos);
  BOOST_TEST(check_warp_map({{0, 0}, {100, 5}}, 100).find("speed") != std::string::npos);
  BOOST_CHECK_THROW(render_warp(tones(100, {{1000.0, 1000.0}}), warp_mode::stretch, {{0, 0}}, rate),
                    media_error);
}

BOOST_AUTO_TEST_CASE(the_derived_id_changes_with_every_input) {
  const std::string parent = "0123456789abcdef0123456789abcdef";
  const std::vector<warp_point> map{{0, 0}, {100, 125}};
  const auto base = warp_media_id(parent, warp_mode::stretch, map, rate);
  BOOST_TEST(base.size() == 32u);
  BOOST_TEST(base == warp_media_id(parent, warp_mode::stretch, map, rate));
  const std::set<std::string> ids{
    base,
    warp_media_id("f123456789abcdef0123456789abcdef", warp_mode::stretch, map, rate),
    warp_media_id(parent, warp_mode::varispeed, map, rate),
    warp_media_id(parent, warp_mode::stretch, {{0, 0}, {100, 126}}, rate),
    warp_media_id(parent, warp_mode::stretch, map, 44100)};
  BOOST_TEST(ids.size() == 5u);
}
