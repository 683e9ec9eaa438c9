// media/transient_detector.hpp: attacks of decaying noise bursts at known frames are found,
// each within 8 frames of its true frame and none elsewhere; silence has none; the result is
// the same on every call.

#define BOOST_TEST_MODULE media_transient_detector
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "media/transient_detector.hpp"

namespace {

constexpr uint32_t rate = 48000;

/// Bursts of white noise decaying by 60 dB over 80 ms, starting at `onsets`, over quiet noise.
std::vector<float> bursts(const std::vector<int64_t>& onsets, int64_t frames) {
  std::vector<float> x(static_cast<size_t>(frames));
  uint64_t state = 12345;
  auto noise = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<double>(state >> 11) / 9007199254740992.0 * 2.0 - 1.0;
  };
  for (auto& s : x)
    s = static_cast<float>(0.001 * noise());
  for (auto at : onsets)
    for (int64_t k = 0; k < rate / 5 && at + k < frames; ++k)
      x[static_cast<size_t>(at + k)] += static_cast<float>(
        0.5 * noise() * std::pow(10.0, -3.0 * static_cast<double>(k) / (0.08 * rate)));
  return x;
}

} // namespace

BOOST_AUTO_TEST_CASE(attacks_are_found_within_8_frames_of_their_frame) {
  // Irregular spacing, so no grid can pass by luck.
  const std::vector<int64_t> truth{4800, 30017, 41999, 70000, 95123, 130001};
  const auto x = bursts(truth, 150000);
  const auto found = loophole::media::detect_transients(x.data(), 150000, rate);
  BOOST_TEST_REQUIRE(found.size() == truth.size());
  for (size_t i = 0; i < truth.size(); ++i)
    BOOST_TEST(std::llabs(found[i] - truth[i]) <= 8,
               "onset " << i << " found at " << found[i] << ", true " << truth[i]);
}

BOOST_AUTO_TEST_CASE(silence_has_no_transients_and_results_repeat) {
  std::vector<float> silence(48000, 0.0f);
  BOOST_TEST(loophole::media::detect_transients(silence.data(), 48000, rate).empty());
  const auto x = bursts({1000, 20000}, 48000);
  BOOST_TEST(loophole::media::detect_transients(x.data(), 48000, rate) ==
             loophole::media::detect_transients(x.data(), 48000, rate));
}
