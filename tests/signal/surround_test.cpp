// surround_pan and fold_down (signal/surround_node.hpp): power preserved at
// every azimuth, a source on a speaker feeds that speaker only, the gains'
// vector points at the source (VBAP's defining property), the fold-down
// matrices against the ITU-R BS.775 formulas, and both nodes run on signals.

#define BOOST_TEST_MODULE signal_surround
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <numbers>
#include <vector>

#include "signal/surround_node.hpp"
#include "tests/signal/node_rig.hpp"

using namespace loophole::signal;
using namespace loophole::signal::testing;

namespace {

constexpr double deg = std::numbers::pi / 180.0;
constexpr uint32_t rates[] = {44100, 48000, 96000};
constexpr uint32_t blocks[] = {1, 7, 64, 1024};

struct speaker_at {
  uint16_t channel;
  double azimuth, elevation;
};

std::vector<speaker_at> speakers(uint16_t layout) {
  switch (layout) {
    case 2:
      return {{0, -30, 0}, {1, 30, 0}};
    case 6:
      return {{0, -30, 0}, {1, 30, 0}, {2, 0, 0}, {4, -110, 0}, {5, 110, 0}};
    // WAV's channel-mask order: the back pair (4, 5) before the side pair (6, 7).
    case 8:
      return {{0, -30, 0}, {1, 30, 0}, {2, 0, 0}, {6, -90, 0}, {7, 90, 0}, {4, -150, 0}, {5, 150, 0}};
    default:
      return {{0, -30, 0},  {1, 30, 0},   {2, 0, 0},    {6, -90, 0},   {7, 90, 0},   {4, -150, 0},
              {5, 150, 0},  {8, -45, 90}, {9, 45, 90},  {10, -135, 90}, {11, 135, 90}};
  }
}

double db(double x) { return std::pow(10.0, x / 20.0); }

planar tones(uint16_t channels, int64_t frames, uint32_t rate) {
  planar x(channels, std::vector<float>(static_cast<size_t>(frames)));
  for (uint16_t c = 0; c < channels; ++c)
    for (int64_t n = 0; n < frames; ++n)
      x[c][static_cast<size_t>(n)] = static_cast<float>(
        0.5 * std::sin(2.0 * std::numbers::pi * (100.0 + 37.0 * c) * static_cast<double>(n) / rate));
  return x;
}

} // namespace

BOOST_AUTO_TEST_CASE(power_is_preserved_at_every_azimuth) {
  for (uint16_t layout : {uint16_t{2}, uint16_t{6}, uint16_t{8}, uint16_t{12}})
    for (double elevation : {0.0, 30.0, 60.0, 90.0})
      for (double az = -180.0; az <= 180.0; az += 0.25) {
        const auto g = surround_gains(layout, az, elevation);
        double power = 0;
        for (double v : g)
          power += v * v;
        BOOST_TEST(std::abs(power - 1.0) < 1e-12, layout << " az " << az << " el " << elevation);
        BOOST_TEST(g[3] == 0.0); // LFE only from the lfe share
      }
}

BOOST_AUTO_TEST_CASE(a_source_on_a_speaker_feeds_only_that_speaker) {
  for (uint16_t layout : {uint16_t{2}, uint16_t{6}, uint16_t{8}, uint16_t{12}})
    for (const auto& s : speakers(layout)) {
      const auto g = surround_gains(layout, s.azimuth, s.elevation);
      for (uint16_t c = 0; c < layout; ++c)
        BOOST_TEST(std::abs(g[c] - (c == s.channel ? 1.0 : 0.0)) < 1e-12,
                   layout << " speaker " << s.channel << " channel " << c << ": " << g[c]);
    }
}

// Pairwise VBAP: the gains weigh the two speakers' unit vectors so that their
// sum points at the source.
BOOST_AUTO_TEST_CASE(the_gain_vector_points_at_the_source) {
  for (uint16_t layout : {uint16_t{6}, uint16_t{8}})
    for (double az = -179.5; az < 180.0; az += 0.5) {
      const auto g = surround_gains(layout, az, 0);
      double x = 0, y = 0;
      for (const auto& s : speakers(layout)) {
        x += g[s.channel] * std::sin(s.azimuth * deg);
        y += g[s.channel] * std::cos(s.azimuth * deg);
      }
      double err = std::atan2(x, y) / deg - az;
      err = std::remainder(err, 360.0);
      BOOST_TEST(std::abs(err) < 1e-9, layout << " az " << az);
    }
  // Stereo: the constant-power law of L -30 / R +30.
  for (double az = -30.0; az <= 30.0; az += 0.5) {
    const auto g = surround_gains(2, az, 0);
    const double theta = (az + 30.0) / 60.0 * std::numbers::pi / 2;
    BOOST_TEST(std::abs(g[0] - std::cos(theta)) < 1e-15);
    BOOST_TEST(std::abs(g[1] - std::sin(theta)) < 1e-15);
  }
}

BOOST_AUTO_TEST_CASE(surround_pan_places_mono_and_stereo_inputs) {
  for (auto rate : rates) {
    const int64_t frames = 3000;
    // Mono at the centre of 5.1 with a quarter to the LFE.
    single_node_graph mono(rate, node_kind::surround_pan, 6, {1},
                           {{"azimuth_deg", 0}, {"lfe", 0.25}});
    const auto x = tones(1, frames, rate);
    auto p = mono.make(64);
    const auto y = run(*p, {x}, 6, 0, frames, 64);
    for (size_t n = 0; n < static_cast<size_t>(frames); ++n) {
      BOOST_TEST(y[2][n] == x[0][n]);
      BOOST_TEST(y[3][n] == static_cast<float>(0.25 * static_cast<double>(x[0][n])));
      BOOST_TEST((y[0][n] == 0.0f && y[1][n] == 0.0f && y[4][n] == 0.0f && y[5][n] == 0.0f));
    }
    // Stereo, spread 1, at 0 in 7.1: the sides land on L and R exactly.
    single_node_graph stereo(rate, node_kind::surround_pan, 8, {2},
                             {{"azimuth_deg", 0}, {"spread", 1}});
    const auto xs = tones(2, frames, rate);
    auto q = stereo.make(64);
    const auto ys = run(*q, {xs}, 8, 0, frames, 64);
    for (size_t n = 0; n < static_cast<size_t>(frames); n += 7) {
      BOOST_TEST(std::abs(ys[0][n] - xs[0][n]) < 1e-7f);
      BOOST_TEST(std::abs(ys[1][n] - xs[1][n]) < 1e-7f);
      BOOST_TEST(std::abs(ys[2][n]) < 1e-7f);
    }
  }
}

BOOST_AUTO_TEST_CASE(automated_surround_pan_is_block_independent_and_restores) {
  const int64_t frames = 5000;
  single_node_graph sg(48000, node_kind::surround_pan, 12, {2}, {{"spread", 0.5}});
  sg.node().automation.push_back(
    {"azimuth_deg", {{0, -180.0, curve_kind::linear}, {5000, 180.0, curve_kind::linear}}, {}});
  sg.node().automation.push_back(
    {"elevation_deg", {{0, 0.0, curve_kind::linear}, {5000, 90.0, curve_kind::linear}}, {}});
  modulation follower;
  follower.kind = modulator_kind::follower;
  follower.depth = 0.3;
  follower.attack_frames = 3;
  follower.release_frames = 300;
  sg.node().automation.push_back({"lfe", {}, {follower}});
  const auto x = tones(2, frames, 48000);
  auto rp = sg.make(4096);
  const auto reference = run(*rp, {x}, 12, 0, frames, 4096);
  for (auto block : blocks) {
    auto p = sg.make(block);
    BOOST_TEST(same_bits(run(*p, {x}, 12, 0, frames, block), reference));
  }
  // Power of a mono-compatible input (both sides equal, spread 0 at frame n) is checked above;
  // here: restore mid-stream.
  auto first = sg.make(100);
  auto out = run(*first, {x}, 12, 0, 2345, 100);
  const auto state = first->snapshot();
  BOOST_TEST(state.size() == state_bytes(sg.g, sg.node()));
  BOOST_TEST(state.size() == sizeof(double));
  auto second = sg.make(100);
  BOOST_TEST_REQUIRE(second->restore(state));
  planar rest(2);
  for (size_t c = 0; c < 2; ++c)
    rest[c].assign(x[c].begin() + 2345, x[c].end());
  const auto tail = run(*second, {rest}, 12, 2345, frames - 2345, 100);
  for (size_t c = 0; c < 12; ++c)
    out[c].insert(out[c].end(), tail[c].begin(), tail[c].end());
  BOOST_TEST(same_bits(out, reference));
}

BOOST_AUTO_TEST_CASE(fold_down_coefficients_follow_bs775) {
  const double c = db(-3), s = db(-3);
  fold_down_gains k;
  k.center = c;
  k.surround = s;
  // 5.1 -> 2: Lo = L + c C + s Ls, Ro = R + c C + s Rs, no LFE.
  auto m = fold_down_matrix(6, 2, k);
  const double lo[6] = {1, 0, c, 0, s, 0}, ro[6] = {0, 1, c, 0, 0, s};
  for (int i = 0; i < 6; ++i) {
    BOOST_TEST(m[0][static_cast<size_t>(i)] == lo[i]);
    BOOST_TEST(m[1][static_cast<size_t>(i)] == ro[i]);
  }
  // 7.1.4 -> 2: rears and heights into their side.
  m = fold_down_matrix(12, 2, k);
  const double lo12[12] = {1, 0, c, 0, s, 0, s, 0, s, 0, s, 0};
  const double ro12[12] = {0, 1, c, 0, 0, s, 0, s, 0, s, 0, s};
  for (size_t i = 0; i < 12; ++i) {
    BOOST_TEST(m[0][i] == lo12[i]);
    BOOST_TEST(m[1][i] == ro12[i]);
  }
  // 5.1 -> mono: (Lo + Ro) / 2.
  m = fold_down_matrix(6, 1, k);
  for (size_t i = 0; i < 6; ++i)
    BOOST_TEST(m[0][i] == (lo[i] + ro[i]) / 2);
  // 7.1.4 -> 7.1 and 5.1.
  m = fold_down_matrix(12, 8, k);
  for (size_t o = 0; o < 8; ++o)
    for (size_t i = 0; i < 12; ++i) {
      double expected = o == i ? 1.0 : 0.0;
      // The top rears go into the back pair (4, 5), the speakers below them.
      if ((o == 0 && i == 8) || (o == 1 && i == 9) || (o == 4 && i == 10) || (o == 5 && i == 11))
        expected = s;
      BOOST_TEST(m[o][i] == expected, o << " <- " << i);
    }
  m = fold_down_matrix(12, 6, k);
  for (size_t o = 0; o < 6; ++o)
    for (size_t i = 0; i < 12; ++i) {
      double expected = o == i ? 1.0 : 0.0;
      if ((o == 4 && i == 6) || (o == 5 && i == 7))
        expected = 1.0;
      if ((o == 0 && i == 8) || (o == 1 && i == 9) || (o == 4 && i == 10) || (o == 5 && i == 11))
        expected = s;
      BOOST_TEST(m[o][i] == expected, o << " <- " << i);
    }
  // LFE when asked, and normalising: each row's absolute sum becomes 1.
  k.lfe = db(-10);
  k.normalise = true;
  m = fold_down_matrix(6, 2, k);
  const double sum = 1 + c + s + db(-10);
  BOOST_TEST(std::abs(m[0][3] - db(-10) / sum) < 1e-15);
  BOOST_TEST(std::abs(m[0][0] - 1 / sum) < 1e-15);
  BOOST_TEST(std::abs(m[1][5] - s / sum) < 1e-15);
}

BOOST_AUTO_TEST_CASE(five_one_folds_down_to_stereo) {
  for (auto rate : rates)
    for (bool with_lfe : {false, true}) {
      std::vector<parameter> params{{"center_db", -3}, {"surround_db", -6}};
      if (with_lfe)
        params.push_back({"lfe_db", -10});
      single_node_graph sg(rate, node_kind::fold_down, 2, {6}, params);
      const int64_t frames = 2000;
      const auto x = tones(6, frames, rate);
      for (auto block : blocks) {
        auto p = sg.make(block);
        const auto y = run(*p, {x}, 2, 0, frames, block);
        double worst = 0;
        for (size_t n = 0; n < static_cast<size_t>(frames); ++n) {
          auto v = [&](int ch) { return static_cast<double>(x[static_cast<size_t>(ch)][n]); };
          const double lfe = with_lfe ? db(-10) * v(3) : 0.0;
          const double l = v(0) + db(-3) * v(2) + db(-6) * v(4) + lfe;
          const double r = v(1) + db(-3) * v(2) + db(-6) * v(5) + lfe;
          worst = std::max({worst, std::abs(static_cast<double>(y[0][n]) - l),
                              std::abs(static_cast<double>(y[1][n]) - r)});
        }
        BOOST_TEST(worst <= 1.2e-7);
      }
    }
}
