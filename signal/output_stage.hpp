#pragma once

// The graph's sink: turns the master signal into the interleaved samples the
// file encoder takes. Integer targets are quantised here, in Signal, so the
// encoder only moves bits and the result never depends on a library's
// float-to-int rounding.

#include <cstdint>

#include "signal/audio_block.hpp"
#include "signal/node_catalog.hpp"
#include "signal/render_graph.hpp"

namespace loophole::signal {

class output_stage {
public:
  /// Reads bits, dither and dither_seed from the output node.
  explicit output_stage(const render_node& node);

  /// float32 when bits == 0, else int32 left-aligned.
  sample_encoding encoding() const noexcept { return bits_ == 0 ? sample_encoding::float32
                                                                : sample_encoding::int32; }

  /// Realtime contract: no allocation. Writes `in.frames` interleaved frames
  /// of `in.channels` samples to `dest` (4 bytes a sample, whatever the
  /// graph's precision: a double graph is rounded to float, or quantised
  /// from double, here). Instantiated for float and double views.
  template <class Sample>
  void write_rt(int64_t timeline_frame, const basic_audio_view<Sample>& in,
                void* dest) const noexcept;

private:
  unsigned bits_;
  bool dither_;
  uint64_t seed_;
};

} // namespace loophole::signal
