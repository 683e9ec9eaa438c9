#pragma once

// Warped media: a piecewise-linear map from source frames to clip frames,
// rendered offline into a derived media file that an ordinary clip then
// plays. Two ways to render it:
//
// - stretch: Rubber Band (R3 engine, offline, one thread) changes the
//   timing and keeps the pitch. The map's inner points become its key frames.
// - varispeed: libsamplerate plays each segment faster or slower, so the
//   pitch follows the speed, like tape.
//
// Both are pure functions of their inputs: the same media and map give the
// same bits. The output has exactly map.back().timeline - map.front().timeline
// frames.
//
// Thread contract: the functions may run on several threads at once.

#include <cstdint>
#include <string>
#include <vector>

#include "media/media_reader.hpp"

namespace loophole::media {

enum class warp_mode : uint8_t { stretch = 0, varispeed = 1 };

/// "stretch" or "varispeed".
const char* to_string(warp_mode m) noexcept;

/// One point of a warp map: source frame (of the media at the session rate)
/// and frame of the clip (from its start) it lands on.
struct warp_point {
  int64_t source = 0;
  int64_t timeline = 0;
  friend bool operator==(const warp_point&, const warp_point&) = default;
};

/// Speeds (source frames per clip frame) outside [1 / max_warp_speed,
/// max_warp_speed] are refused: libsamplerate takes 1/256..256, and Rubber
/// Band's quality falls off long before that.
inline constexpr double max_warp_speed = 16.0;

/// Bumped whenever a change to the rendering changes its output, so derived
/// media cached by an older build are made again.
inline constexpr uint32_t warp_algorithm_version = 1;

/// Why a map cannot be rendered: empty when it can. A map needs two points
/// or more, strictly increasing in both coordinates, the first at timeline 0
/// and every source frame within [0, source_frames].
std::string check_warp_map(const std::vector<warp_point>& map, int64_t source_frames);

/// The identity of the derived media: XXH3-128 (32 hex digits) of the
/// parent's id, the mode, the map, the rate and warp_algorithm_version. (As
/// for resampled media, the resampling quality is a setting, not part of the
/// identity: the cache's file names carry it.)
std::string warp_media_id(const std::string& parent_id, warp_mode mode,
                          const std::vector<warp_point>& map, uint32_t rate);

/// Renders `source` (planar, at `rate`) through `map`. The map must pass
/// check_warp_map. Throws media_error if a library fails.
decoded_media render_warp(const decoded_media& source, warp_mode mode,
                          const std::vector<warp_point>& map, uint32_t rate);

} // namespace loophole::media
