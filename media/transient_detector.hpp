#pragma once

// Transient (onset) detection on decoded audio, through aubio's onset
// detector: the analysis behind transient boundaries (specification section 5)
// and the analysis regions of section 13. aubio is a well-tested library; the
// parameters below are fixed so the same audio always gives the same onsets.
//
// Thread contract: a pure function; safe on any thread.

#include <cstdint>
#include <vector>

namespace loophole::media {

/// The hop of the detector, in frames (its block is four hops): aubio finds
/// an onset to within about a hop, then it is refined to the sample.
inline constexpr uint32_t transient_hop = 256;

/// Frames (from 0) where attacks begin in `mono` (`frames` samples at
/// `rate`), in increasing order, at least 20 ms apart: each is where the
/// signal first reaches half the peak of the frames around aubio's onset. Throws
/// std::runtime_error if aubio cannot be set up.
std::vector<int64_t> detect_transients(const float* mono, int64_t frames, uint32_t rate);

} // namespace loophole::media
