#pragma once

// The gains of the surround_pan and fold_down nodes, exposed so that tests
// check them against their definitions.
//
// Channel orders are WAV's (docs/node-graph.md, "Channels"): 5.1 L R C LFE Ls
// Rs; 7.1 L R C LFE Ls Rs Lrs Rrs; 7.1.4 adds Ltf Rtf Ltr Rtr.

#include <array>
#include <cstdint>

#include "signal/audio_block.hpp"

namespace loophole::signal {

using speaker_gains = std::array<double, max_channels>;

/// The gains a mono source at `azimuth_deg` (0 front, -30 front left, +30
/// front right, +-180 behind) and `elevation_deg` (7.1.4 only: 0 the ear
/// layer, 90 the height layer) gives each channel of a bus of `channels`
/// channels (2, 6, 8 or 12). Pairwise constant power (2-D VBAP, gains
/// normalised to a sum of squares of 1) between the two adjacent speakers of
/// each layer; the layers mixed with cos/sin of elevation / 90 x pi / 2. A
/// stereo bus pans between L -30 and R +30; a source behind the listener is
/// mirrored to the front first (azimuth 150 sounds as 30). LFE gets 0.
speaker_gains surround_gains(uint16_t channels, double azimuth_deg, double elevation_deg) noexcept;

/// Fold-down parameters (the catalog's, in linear gain).
struct fold_down_gains {
  double center = 0.7071067811865476;   ///< -3 dB
  double surround = 0.7071067811865476; ///< -3 dB; heights and rears too
  double lfe = 0.0;                     ///< only into stereo and mono
  bool normalise = false;
};

/// The matrix out[o][i] folding `from` channels down to `to`:
/// - 12 -> 8: heights into the ear-layer speaker of their side and depth
///   (Ltf -> L, Ltr -> Lrs) times `surround`;
/// - 12 or 8 -> 6: rears into the surround of their side at unity (the 5.1
///   surround sits between the 7.1 side and rear), heights as above with Ltr
///   into Ls;
/// - to 2 (ITU-R BS.775): Lo = L + c C + s (Ls + Lrs + Ltf + Ltr) + lfe LFE,
///   Ro likewise;
/// - to 1: (Lo + Ro) / 2.
/// `normalise` scales the whole matrix by 1 / (the largest row sum of
/// absolute gains) when that exceeds 1, so full-scale inputs cannot clip.
using gain_matrix = std::array<std::array<double, max_channels>, max_channels>;
gain_matrix fold_down_matrix(uint16_t from, uint16_t to, const fold_down_gains& gains) noexcept;

} // namespace loophole::signal
