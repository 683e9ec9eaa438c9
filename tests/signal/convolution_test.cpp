// The convolution node (signal/convolution_node.cpp): the identity with a
// unit impulse, a known response against direct time-domain convolution in
// double, independence from the block size for every partition size, the
// dry path's alignment, and snapshot/restore mid-stream.

#define BOOST_TEST_MODULE signal_convolution
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "tests/signal/node_rig.hpp"

using namespace loophole::signal;
using namespace loophole::signal::testing;

namespace {

constexpr uint32_t rates[] = {44100, 48000, 96000};

// A deterministic noise in [-1, 1) (a 64-bit LCG's high bits).
struct noise {
  uint64_t s;
  float next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<float>(static_cast<double>(s >> 40) / 8388608.0 - 1.0);
  }
};

planar noise_signal(uint16_t channels, int64_t frames, uint64_t seed) {
  noise n{seed};
  planar x(channels, std::vector<float>(static_cast<size_t>(frames)));
  for (auto& ch : x)
    for (auto& v : ch)
      v = n.next();
  return x;
}

// A graph with a convolution node whose response is `response` (planar,
// `ir_channels` channels of `length` frames).
single_node_graph convolution_graph(uint32_t rate, uint16_t channels, uint32_t partition,
                                    const std::vector<float>& response, uint16_t ir_channels,
                                    std::vector<parameter> extra = {}) {
  extra.push_back({"partition_frames", static_cast<double>(partition)});
  single_node_graph sg(rate, node_kind::convolution, channels, {channels}, std::move(extra));
  const auto length = static_cast<int64_t>(response.size() / ir_channels);
  sg.g.media.push_back({"impulse response", ir_channels, length});
  sg.node().media = media_region{0, 0, 0, length, 0, 0};
  sg.node().embedded_audio = response;
  return sg;
}

std::vector<float> decaying_response(uint16_t channels, size_t length, uint64_t seed) {
  noise n{seed};
  std::vector<float> h(channels * length);
  for (uint16_t c = 0; c < channels; ++c)
    for (size_t i = 0; i < length; ++i)
      h[c * length + i] =
        static_cast<float>(static_cast<double>(n.next()) * std::exp(-3.0 * static_cast<double>(i) / static_cast<double>(length)));
  return h;
}

// Direct convolution in double: y[n] = sum_k h[k] x[n - k].
std::vector<double> direct(const std::vector<float>& x, const float* h, size_t length) {
  std::vector<double> y(x.size(), 0.0);
  for (size_t n = 0; n < x.size(); ++n) {
    double acc = 0;
    for (size_t k = 0; k < length && k <= n; ++k)
      acc += static_cast<double>(h[k]) * static_cast<double>(x[n - k]);
    y[n] = acc;
  }
  return y;
}

} // namespace

// An impulse response of one sample of 1 gives the input back, P frames
// later. The FFTs run in double: each sample comes back within about 1e-15
// of the block's peak, so rounding to float restores it exactly unless the
// sample is some 1e-8 below the block's peak; the bound is 1e-7 of the peak,
// and the test reports how many came back bit-exact.
BOOST_AUTO_TEST_CASE(a_unit_impulse_is_the_identity_delayed_by_one_partition) {
  for (uint32_t partition : {64u, 1024u}) {
    auto sg = convolution_graph(48000, 2, partition, {1.0f}, 1);
    BOOST_TEST(latency_frames(sg.g, sg.node()) == partition);
    const int64_t frames = 20000;
    const auto x = noise_signal(2, frames, 7);
    auto p = sg.make(1024);
    const auto y = run(*p, {x}, 2, 0, frames, 1000);
    size_t exact = 0, total = 0;
    double worst = 0;
    for (size_t c = 0; c < 2; ++c)
      for (size_t n = 0; n < static_cast<size_t>(frames); ++n) {
        const float expected = n < partition ? 0.0f : x[c][n - partition];
        worst = std::max(worst, std::abs(static_cast<double>(y[c][n]) - static_cast<double>(expected)));
        exact += y[c][n] == expected;
        ++total;
      }
    BOOST_TEST_MESSAGE("P " << partition << ": " << exact << " of " << total
                            << " samples bit-exact, worst error " << worst);
    BOOST_TEST(worst <= 1e-7);
  }
}

BOOST_AUTO_TEST_CASE(a_known_response_matches_direct_convolution) {
  for (auto rate : rates)
    for (uint32_t partition : {64u, 256u, 1024u, 4096u}) {
      // A stereo response of 3000 frames: 1 to 47 partitions.
      const size_t length = 3000;
      const auto h = decaying_response(2, length, rate + partition);
      auto sg = convolution_graph(rate, 2, partition, h, 2);
      const int64_t frames = 12000;
      const auto x = noise_signal(2, frames, partition);
      auto p = sg.make(512);
      const auto y = run(*p, {x}, 2, 0, frames, 512);
      for (size_t c = 0; c < 2; ++c) {
        const auto ref = direct(x[c], h.data() + c * length, length);
        double peak = 0, worst = 0;
        for (double v : ref)
          peak = std::max(peak, std::abs(v));
        for (size_t n = partition; n < static_cast<size_t>(frames); ++n)
          worst = std::max(worst, std::abs(static_cast<double>(y[c][n]) - ref[n - partition]));
        BOOST_TEST(worst <= 1e-6 * peak, "rate " << rate << " P " << partition << " channel " << c
                                                 << ": " << worst / peak << " of the peak");
      }
    }
}

BOOST_AUTO_TEST_CASE(a_mono_response_serves_every_channel_and_dry_is_aligned) {
  const size_t length = 500;
  const auto h = decaying_response(1, length, 3);
  auto sg = convolution_graph(48000, 2, 128, h, 1, {{"wet", 0.5}, {"dry", 0.25}});
  const int64_t frames = 4000;
  const auto x = noise_signal(2, frames, 11);
  auto p = sg.make(100);
  const auto y = run(*p, {x}, 2, 0, frames, 100);
  for (size_t c = 0; c < 2; ++c) {
    const auto ref = direct(x[c], h.data(), length);
    double worst = 0;
    for (size_t n = 128; n < static_cast<size_t>(frames); ++n)
      worst = std::max(worst, std::abs(static_cast<double>(y[c][n]) -
                                       (0.5 * ref[n - 128] + 0.25 * static_cast<double>(x[c][n - 128]))));
    BOOST_TEST(worst <= 1e-6);
  }
}

BOOST_AUTO_TEST_CASE(output_does_not_depend_on_the_block_size) {
  const size_t length = 5000;
  const auto h = decaying_response(2, length, 5);
  const int64_t frames = 20000;
  const auto x = noise_signal(2, frames, 13);
  for (uint32_t partition : {64u, 128u, 256u, 512u, 1024u, 2048u, 4096u}) {
    auto sg = convolution_graph(48000, 2, partition, h, 2);
    sg.node().automation.push_back(
      {"wet", {{0, 1.0, curve_kind::linear}, {15000, 0.2, curve_kind::linear}}, {}});
    auto reference_p = sg.make(4096);
    const auto reference = run(*reference_p, {x}, 2, 0, frames, 4096);
    for (uint32_t block : {1u, 7u, 64u, 1024u}) {
      auto p = sg.make(block);
      BOOST_TEST(same_bits(run(*p, {x}, 2, 0, frames, block), reference),
                 "P " << partition << " block " << block);
    }
  }
}

BOOST_AUTO_TEST_CASE(snapshot_and_restore_mid_stream_are_exact) {
  const size_t length = 3000;
  const auto h = decaying_response(2, length, 9);
  const int64_t frames = 10000, cut = 4321;
  const auto x = noise_signal(2, frames, 17);
  for (uint32_t partition : {64u, 1024u}) {
    auto sg = convolution_graph(48000, 2, partition, h, 2);
    modulation follower;
    follower.kind = modulator_kind::follower;
    follower.depth = -0.5;
    follower.attack_frames = 5;
    follower.release_frames = 500;
    sg.node().automation.push_back({"wet", {}, {follower}});
    auto reference_p = sg.make(256);
    const auto reference = run(*reference_p, {x}, 2, 0, frames, 256);
    auto first = sg.make(256);
    auto out = run(*first, {x}, 2, 0, cut, 256);
    const auto state = first->snapshot();
    BOOST_TEST(state.size() == state_bytes(sg.g, sg.node()));
    BOOST_TEST(state.size() == state_bytes(sg.node()));
    auto second = sg.make(256);
    BOOST_TEST_REQUIRE(second->restore(state));
    BOOST_TEST(second->snapshot() == state);
    BOOST_TEST(!second->restore(std::span<const std::byte>(state).first(state.size() - 1)));
    planar rest(2);
    for (size_t c = 0; c < 2; ++c)
      rest[c].assign(x[c].begin() + cut, x[c].end());
    const auto tail = run(*second, {rest}, 2, cut, frames - cut, 256);
    for (size_t c = 0; c < 2; ++c)
      out[c].insert(out[c].end(), tail[c].begin(), tail[c].end());
    BOOST_TEST(same_bits(out, reference));
  }
}
