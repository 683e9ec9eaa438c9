#pragma once

// Streams media into the windows of a bus slot, segment by segment: for each
// clip node, the source frames it plays during the segment (see
// signal/bus_layout.hpp). Media at the session rate are read straight from
// their files, one stream per clip; media at another rate are decoded and
// resampled whole once (media_pool owns them) and copied from memory.
//
// Thread contract: `fill` is called by one thread at a time and blocks until
// the slot is filled; it spreads the clips over `threads` threads of its own.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "media/media_reader.hpp"
#include "signal/bus_layout.hpp"
#include "signal/render_graph.hpp"

namespace loophole::media {

/// Where the frames of one graph media come from.
struct media_source {
  std::string path;
  /// Set when resampled: the whole media, planar (channel c starts at
  /// samples + c * frames), held in memory that `owner` keeps alive (the
  /// media pool's shared memory, mapped; nothing is copied).
  const float* samples = nullptr;
  uint16_t channels = 0;
  int64_t frames = 0;
  std::shared_ptr<const void> owner;
};

/// The whole of `region` of `source` (`channels` channels), planar: channel c
/// at [c * region.length, (c + 1) * region.length), loops unrolled. What a node
/// that needs its media whole (a convolution's impulse response, a sampler's
/// sample) carries in the graph. Throws media_error.
std::vector<float> read_region(const media_source& source, uint16_t channels,
                               const signal::media_region& region);

class segment_feeder {
public:
  /// `media` is index-aligned with graph.media. Starts the threads.
  segment_feeder(const signal::render_graph& graph, signal::bus_layout layout,
                 std::vector<media_source> media, unsigned threads);
  ~segment_feeder();
  segment_feeder(const segment_feeder&) = delete;
  segment_feeder& operator=(const segment_feeder&) = delete;

  /// Fills the media windows of `slot` for timeline frames [first, first + count).
  /// Throws media_error (the first failure of any clip).
  void fill(std::byte* slot, int64_t first, uint32_t count);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace loophole::media
