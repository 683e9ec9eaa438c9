#pragma once

// MIDI clips to sample-stamped events (specification section 5): the notes,
// control changes and pitch bends of a track's MIDI clips, at beats from each
// clip's start, through the track's grooves and the tempo map, become the
// sorted event list of the track's instrument node.

#include "actors/timebase.hpp"
#include "caf/expected.hpp"
#include "messages/session_document.hpp"
#include "signal/render_graph.hpp"

#include <vector>

namespace loophole::actors {

/// A track's instrument node, resolved.
struct midi_track {
  std::vector<signal::parameter> params;  ///< The instrument node's parameters.
  std::vector<signal::midi_event> events; ///< Sorted as signal::validate wants them.
  int64_t end_frame = 0; ///< Where the track falls silent: its last release, or its clips' ends.
};

/// Resolves track `track` of `doc`, which has an instrument. Errors name the
/// JSON path.
caf::expected<midi_track> resolve_midi_track(const messages::session_document& doc, size_t track,
                                             const timebase& tb);

} // namespace loophole::actors
