// Throughput of the mixing nodes' inner loops: 16 stereo tracks x 60 s at
// 48 kHz through one node each, in blocks of 1024 frames, single-threaded.
//   eq: one peak band, the node (channels of a track in one loop) against
//       the straightforward per-channel TDF-II loop (and checks that both give
//       the same bits);
//   compressor, limiter, gate: the node alone.
// Prints frames per second and CPU seconds per case. bench/README.md says how
// to run it.

#include <time.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "signal/biquad.hpp"
#include "signal/node_processor.hpp"

using namespace loophole::signal;

namespace {

constexpr uint32_t rate = 48000;
constexpr uint32_t tracks = 16;
constexpr uint32_t seconds = 60;
constexpr uint32_t block = 1024;
constexpr uint64_t frames = uint64_t{rate} * seconds;

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// Deterministic program material: noise through a slow amplitude envelope
// (between -40 and 0 dBFS), different per track and channel.
std::vector<float> material(uint32_t track, uint32_t channel) {
  std::vector<float> x(frames);
  uint64_t state = 0x9E3779B97F4A7C15ull * (track * 2 + channel + 1);
  for (uint64_t i = 0; i < frames; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const double noise = static_cast<double>(state >> 11) / 9007199254740992.0 * 2.0 - 1.0;
    const double env_db = -20.0 + 20.0 * std::sin(2.0 * 3.14159265358979 * 0.7 *
                                                  static_cast<double>(i) / rate + track);
    x[i] = static_cast<float>(noise * std::pow(10.0, env_db / 20.0));
  }
  return x;
}

render_node make_node(node_kind kind, std::vector<parameter> params) {
  render_node n;
  n.kind = kind;
  n.channels = 2;
  n.inputs = {0};
  n.params = std::move(params);
  return n;
}

struct result {
  double seconds;
  std::vector<float> out; ///< track 0, channel 0
};

result run_node(const render_node& node, const std::vector<std::vector<float>>& in,
                std::vector<std::vector<float>>& out) {
  render_graph g;
  g.sample_rate = rate;
  std::vector<std::unique_ptr<node_processor>> procs;
  for (uint32_t t = 0; t < tracks; ++t) {
    procs.push_back(make_processor(g, node));
    procs.back()->prepare(block);
  }
  const double start = cpu_seconds();
  for (uint32_t t = 0; t < tracks; ++t)
    for (uint64_t at = 0; at < frames; at += block) {
      const auto n = static_cast<uint32_t>(std::min<uint64_t>(block, frames - at));
      audio_view iv, ov;
      iv.channels = ov.channels = 2;
      iv.frames = ov.frames = n;
      for (uint16_t c = 0; c < 2; ++c) {
        iv.channel[c] = const_cast<float*>(in[t * 2 + c].data()) + at;
        ov.channel[c] = out[t * 2 + c].data() + at;
      }
      procs[t]->process_rt(process_context{static_cast<int64_t>(at), n}, {&iv, 1}, ov);
    }
  return {cpu_seconds() - start, out[0]};
}

// The straightforward loop: one channel after the other, one band.
double run_plain_eq(const biquad_coefficients& c, const std::vector<std::vector<float>>& in,
                    std::vector<std::vector<float>>& out) {
  const double start = cpu_seconds();
  for (uint32_t ch = 0; ch < tracks * 2; ++ch) {
    double s1 = 0, s2 = 0;
    for (uint64_t at = 0; at < frames; at += block) {
      const auto n = std::min<uint64_t>(block, frames - at);
      const float* x = in[ch].data() + at;
      float* y = out[ch].data() + at;
      for (uint64_t i = 0; i < n; ++i) {
        const double v = x[i];
        const double r = c.b0 * v + s1;
        s1 = (c.b1 * v + s2) - c.a1 * r;
        s2 = c.b2 * v - c.a2 * r;
        y[i] = static_cast<float>(r);
      }
    }
  }
  return cpu_seconds() - start;
}

void report(const char* name, double secs) {
  const double total = static_cast<double>(frames) * tracks;
  std::printf("%-34s %8.3f s CPU  %10.1f Mframes/s  %7.0fx realtime (16 tracks)\n", name, secs,
              total / secs / 1e6, seconds / secs);
}

} // namespace

int main(int argc, char** argv) {
  const std::string only = argc > 1 ? argv[1] : "";
  auto wanted = [&](const char* name) { return only.empty() || std::string{name}.find(only) != std::string::npos; };
  std::vector<std::vector<float>> in, out(tracks * 2, std::vector<float>(frames));
  for (uint32_t t = 0; t < tracks; ++t)
    for (uint32_t c = 0; c < 2; ++c)
      in.push_back(material(t, c));

  const auto eq = make_node(node_kind::eq, {{"b1_type", 0}, {"b1_freq", 1000}, {"b1_gain_db", 6},
                                            {"b1_q", 1.0}});
  const biquad_coefficients coefs = rbj_coefficients(
    biquad_design{biquad_type::peak, 1000.0, 6.0, 1.0, 0.0, true}, rate);
  std::vector<std::vector<float>> plain(tracks * 2, std::vector<float>(frames));
  for (int round = 0; round < (wanted("eq") ? 2 : 0); ++round) { // the first round warms caches and clocks
    const double t_plain = run_plain_eq(coefs, in, plain);
    const auto node = run_node(eq, in, out);
    if (round == 1) {
      report("eq, 1 peak band, per channel", t_plain);
      report("eq, 1 peak band, node (stereo)", node.seconds);
      // The node rounds a1 y and a2 y into their sums (fused multiply-adds),
      // the plain loop does not: they agree to float precision, not bit for bit.
      double worst = 0;
      for (uint32_t ch = 0; ch < tracks * 2; ++ch)
        for (uint64_t i = 0; i < frames; ++i)
          worst = std::max(worst, std::abs(static_cast<double>(plain[ch][i]) -
                                           static_cast<double>(out[ch][i])));
      std::printf("  node output within %.2g of the per-channel loop's (float precision)\n",
                  worst);
    }
  }
  const auto eq4 = make_node(node_kind::eq, {{"b1_type", 0}, {"b1_freq", 100}, {"b1_gain_db", 3},
                                             {"b2_type", 5}, {"b2_freq", 200}, {"b2_gain_db", -2},
                                             {"b3_type", 6}, {"b3_freq", 8000}, {"b3_gain_db", 2},
                                             {"b4_type", 2}, {"b4_freq", 30}});
  if (wanted("eq")) report("eq, 4 bands, node (stereo)", run_node(eq4, in, out).seconds);

  const auto comp = make_node(node_kind::compressor,
                              {{"threshold_db", -24}, {"ratio", 4}, {"knee_db", 6},
                               {"attack_frames", 480}, {"release_frames", 4800}});
  if (wanted("compressor, peak")) report("compressor, peak, knee 6", run_node(comp, in, out).seconds);
  const auto comp_rms = make_node(node_kind::compressor,
                                  {{"threshold_db", -24}, {"ratio", 4}, {"attack_frames", 480},
                                   {"release_frames", 4800}, {"detector", 1},
                                   {"rms_frames", 480}, {"lookahead_frames", 240},
                                   {"mix", 0.7}});
  if (wanted("compressor, rms")) report("compressor, rms, lookahead, mix", run_node(comp_rms, in, out).seconds);
  const auto gate = make_node(node_kind::gate, {{"threshold_db", -30}, {"ratio", 4},
                                                {"range_db", -40}, {"attack_frames", 48},
                                                {"hold_frames", 480}, {"release_frames", 4800}});
  if (wanted("gate")) report("gate", run_node(gate, in, out).seconds);
  const auto lim = make_node(node_kind::limiter, {{"ceiling_db", -6}, {"release_frames", 2400},
                                                  {"lookahead_frames", 240}});
  if (wanted("limiter, sample")) report("limiter, sample peak", run_node(lim, in, out).seconds);
  const auto lim_tp = make_node(node_kind::limiter, {{"ceiling_db", -6}, {"release_frames", 2400},
                                                     {"lookahead_frames", 240}, {"true_peak", 1}});
  if (wanted("limiter, true")) report("limiter, true peak", run_node(lim_tp, in, out).seconds);
  return 0;
}
