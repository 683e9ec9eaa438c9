#pragma once

// RBJ Audio-EQ-Cookbook biquads and the eq node built from them.

#include <cstdint>
#include <memory>

#include "signal/node_processor.hpp"
#include "signal/render_graph.hpp"

namespace loophole::signal {

/// Band types of the eq node, in the catalog's order (wire format).
enum class biquad_type : uint8_t {
  peak = 0,
  low_pass = 1,
  high_pass = 2,
  band_pass = 3, ///< constant 0 dB peak gain
  notch = 4,
  low_shelf = 5,
  high_shelf = 6,
  all_pass = 7,
};

/// Normalised coefficients (a0 = 1):
/// H(z) = (b0 + b1 z^-1 + b2 z^-2) / (1 + a1 z^-1 + a2 z^-2).
struct biquad_coefficients {
  double b0 = 1, b1 = 0, b2 = 0, a1 = 0, a2 = 0;
  bool operator==(const biquad_coefficients&) const = default;
};

/// What one band is set to. `bw` > 0 (octaves) replaces `q` for the types
/// the cookbook defines it for (peak, band_pass, notch, all_pass); shelves
/// use the slope S = 1 unless `shelf_uses_q`.
struct biquad_design {
  biquad_type type = biquad_type::peak;
  double freq = 1000.0;
  double gain_db = 0.0;
  double q = 0.7071;
  double bw = 0.0;
  bool shelf_uses_q = false;
};

/// The cookbook's coefficients of `design` at `rate`. The caller keeps freq
/// below Nyquist (the eq node clamps it to 0.49 x the rate).
biquad_coefficients rbj_coefficients(const biquad_design& design, double rate) noexcept;

/// The most bands of one eq node.
inline constexpr int max_eq_bands = 8;

/// Instantiated for float and double samples.
template <class Sample>
std::unique_ptr<basic_node_processor<Sample>> make_eq(const render_graph& graph,
                                                      const render_node& node);
uint64_t eq_state_bytes(const render_node& node) noexcept;

} // namespace loophole::signal
