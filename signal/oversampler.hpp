#pragma once

// Oversampling by 2, 4 or 8: cascaded half-band polyphase FIR stages, linear
// phase, designed once (Kaiser window, 110 dB target) so that every stage
// rejects images and aliases by at least 100 dB and the passband is flat to
// 0.01 dB up to 0.45 of the base rate.
//
// A stage from rate r to 2r has K odd (its half length) and the taps h[d],
// d = -K..K: h[0] = 1/2, h[d] = 0 for even d != 0, so only the odd taps are
// stored and multiplied (the polyphase form). Its delay is K samples at 2r.
// The round trip (up, then down) of factor N delays by
//   D = sum over stages s of 2 K_s (N / 2^s) samples at N x the base rate,
// padded at the high rate to a multiple of N: a whole number of base frames,
// which `latency_frames` reports for plugin delay compensation.
//
// `oversampled_node` wraps any node processor: it upsamples every input,
// runs the inner node at N x the rate (made for a graph whose sample_rate is
// N times the outer one, with its frames parameters, automation and
// modulator clocks scaled by N) and downsamples its output.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "signal/node_processor.hpp"

namespace loophole::signal {

/// One half-band stage: K and the taps h[1], h[3], ..., h[K] (h[-d] = h[d]).
struct halfband_stage {
  uint32_t half_length = 0;
  std::vector<double> odd_taps;
};

/// The stages of the cascade, in up order (base rate -> 2x first). Designed
/// once, deterministically.
std::span<const halfband_stage> halfband_stages() noexcept;

/// Whether `factor` is 1, 2, 4 or 8.
constexpr bool valid_oversample(double factor) noexcept {
  return factor == 1 || factor == 2 || factor == 4 || factor == 8;
}

/// Up and down sampling of one channel by 2, 4 or 8, in samples of `Sample`
/// (float or double; both are instantiated).
template <class Sample>
class basic_channel_oversampler {
public:
  explicit basic_channel_oversampler(uint32_t factor);

  /// Not realtime-safe: sizes the histories for blocks of `max_block` base frames.
  void prepare(uint32_t max_block);

  uint32_t factor() const noexcept { return factor_; }

  /// `frames` base-rate samples of `in` to `frames * factor` samples of `out`.
  void upsample(const Sample* in, uint32_t frames, Sample* out) noexcept;

  /// `frames * factor` high-rate samples of `in` to `frames` samples of `out`.
  /// `in` is used as scratch (its contents are not kept).
  void downsample(Sample* in, uint32_t frames, Sample* out) noexcept;

  /// The round trip's delay in base frames.
  static uint32_t latency_frames(uint32_t factor) noexcept;

  /// Bytes of the state: the stages' histories and the padding line.
  static size_t state_bytes(uint32_t factor) noexcept;
  void snapshot_into(std::byte* out) const noexcept;
  void restore_from(const std::byte* in) noexcept;

private:
  struct stage_buffer {
    const halfband_stage* stage = nullptr;
    std::vector<Sample> up;   ///< K samples of history, then the block
    std::vector<Sample> down; ///< 2K samples of history, then the block
  };
  uint32_t factor_;
  uint32_t max_block_ = 0;
  std::vector<stage_buffer> stages_;
  std::vector<Sample> pad_;     ///< delay line at the high rate (whole-frame latency)
  uint32_t pad_pos_ = 0;
  std::vector<Sample> scratch_; ///< intermediate rates
};

using channel_oversampler = basic_channel_oversampler<float>;

/// The node `node` of `graph` run at `factor` x the rate, with its inputs of
/// `input_channels` channels. `factor` is 2, 4 or 8.
template <class Sample>
std::unique_ptr<basic_node_processor<Sample>> make_oversampled(
  const render_graph& graph, const render_node& node, uint32_t factor,
  std::vector<uint16_t> input_channels);

/// The node as its inner processor sees it at `factor` x the rate: frames
/// parameters, automation points, modulator clocks and follower times scaled,
/// and `oversample` set to 1.
render_node scaled_for_oversampling(const render_node& node, uint32_t factor);

/// The oversampling factor `node` runs at: its own `oversample` parameter,
/// else the graph's default; 1 for kinds without the parameter.
uint32_t oversample_factor(const render_graph& graph, const render_node& node) noexcept;

} // namespace loophole::signal
