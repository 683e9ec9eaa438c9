#pragma once

// The render orchestrator: runs render jobs. Each job is its own actor
// (render_job): it opens the output, leases media and Signal instances,
// partitions the graph over them, and streams the render through a ring of
// segment slots in shared memory:
//
//   feeder fills slot (media windows)  ->  Signal renders the partitions of
//   the segment, each once its inputs are done  ->  writer appends the sink
//   to the output  ->  the slot is filled with the next segment.
//
// Which instance renders which partition, and when, never changes a bit of
// the result: partitions are pure functions of their inputs and every sum is
// in graph order.

#include <map>
#include <set>

#include "actors/pulse_context.hpp"
#include "actors/render_job.hpp"
#include "caf/actor.hpp"
#include "caf/replies_to.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "messages/type_ids.hpp"

namespace loophole::actors {

/// (render, plan, settings, progress listener or an invalid handle) -> summary
using render_orchestrator_actor = caf::typed_actor<
  caf::replies_to<atoms::render_atom, messages::render_plan, messages::render_settings,
                  caf::actor>::with<messages::render_summary>>;

struct render_orchestrator_state {
  uint64_t next_job = 1;
  /// Running jobs and the promise of each to its requester. CAF 0.17 sends
  /// nothing for a promise dropped by an actor that ends, so an orchestrator
  /// told to stop answers each of these itself.
  std::map<caf::actor_addr, caf::typed_response_promise<messages::render_summary>> jobs;
  /// Every job this orchestrator started (their exits must not stop it).
  std::set<caf::actor_addr> spawned;
  static inline const char* name = "render_orchestrator";
};

render_orchestrator_actor::behavior_type
render_orchestrator(render_orchestrator_actor::stateful_pointer<render_orchestrator_state> self,
                    context_ptr ctx);

} // namespace loophole::actors
