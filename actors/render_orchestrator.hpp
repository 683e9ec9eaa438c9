#pragma once

// The render orchestrator: starts one render job (render_job.cpp) per
// render and hands the request to it; the job answers the requester itself.
// A loudness-normalised render is a job of two passes
// (loudness_normalization.cpp), which runs two render jobs in turn.
//
// Its state (the running jobs) lives in a render_orchestrator_state held
// outside the actor: an orchestrator killed and restarted by Pulse's
// supervisor adopts the running jobs, which go on undisturbed. An orderly
// stop of the orchestrator cancels them.

#include <map>
#include <memory>

#include "actors/pulse_context.hpp"
#include "actors/render_job.hpp"
#include "caf/actor.hpp"
#include "caf/replies_to.hpp"
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
  std::map<caf::actor_addr, caf::actor> jobs; ///< running
  void cancel_all();
  ~render_orchestrator_state();
};

render_orchestrator_actor::behavior_type
render_orchestrator(render_orchestrator_actor::pointer self, context_ptr ctx,
                    std::shared_ptr<render_orchestrator_state> state);

} // namespace loophole::actors
