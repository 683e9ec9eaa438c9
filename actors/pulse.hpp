#pragma once

// Pulse's actor tree: a one-for-one supervisor over the session, the media
// pool, the timeline resolver, the Signal pool and the render orchestrator,
// each published in the registry under its name.

#include "actors/pulse_context.hpp"
#include "caf/actor.hpp"
#include "caf/actor_system.hpp"

namespace loophole::actors {

/// Starts the tree; returns the root supervisor. Stop it with send_exit.
caf::actor start_pulse(caf::actor_system& sys, context_ptr ctx);

} // namespace loophole::actors
