#pragma once

// One render: an actor of its own, spawned and linked by the render
// orchestrator. See render_job.cpp for the pipeline and for what happens
// when a Signal instance dies.

#include "actors/pulse_context.hpp"
#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "messages/type_ids.hpp"

namespace loophole::actors {

/// Spawns a job; it starts when sent (render_atom) and answers with a
/// render_summary or an error. An exit message cancels it cleanly.
caf::actor spawn_render_job(caf::actor_system& sys, context_ptr ctx, uint64_t job,
                            messages::render_plan plan, messages::render_settings settings,
                            caf::actor listener);

/// Which Signal instance executes each partition: greedy by node count, the
/// heaviest partition first to the least loaded instance, ties by index.
/// Deterministic (though the result would not change if it were not).
std::vector<uint32_t> assign_partitions(const signal::render_graph& graph, uint32_t workers);

} // namespace loophole::actors
