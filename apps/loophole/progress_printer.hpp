#pragma once

// Shows a render's progress: a bar with the speed (x realtime) and the time
// left on a terminal, NDJSON events on request, or nothing.

#include "caf/actor.hpp"
#include "caf/actor_system.hpp"

namespace loophole::apps {

enum class progress_mode { none, bar, json };

/// Spawns the printer; it takes render_progress messages.
caf::actor spawn_progress_printer(caf::actor_system& sys, progress_mode mode);

} // namespace loophole::apps
