#pragma once

// The pool of local Signal instances: starts one signal_supervisor per
// instance on demand and lends them to render jobs.
//
//   (lease, n) -> std::vector<caf::actor>   n supervisors (started if needed)
//   (lost, supervisor)                      from a supervisor whose instance failed for
//                                           good: the next lease replaces it
//   (status)   -> std::vector<instance_status>
//
// Its state (the supervisors) lives in a signal_pool_state held outside the
// actor: a pool killed and restarted by Pulse's supervisor adopts the same
// supervisors, so running renders keep their Signal instances. The
// supervisors stop when the pool is stopped (an orderly exit), or when the
// last holder of the state lets it go.

#include <memory>
#include <set>
#include <vector>

#include "actors/pulse_context.hpp"
#include "caf/actor.hpp"
#include "caf/behavior.hpp"
#include "caf/event_based_actor.hpp"

namespace loophole::actors {

struct signal_pool_state {
  std::vector<caf::actor> supervisors;
  std::set<caf::actor_addr> failed; ///< Supervisors whose instance failed for good.
  void stop_all();
  ~signal_pool_state();
};

caf::behavior signal_pool(caf::event_based_actor* self, context_ptr ctx,
                          std::shared_ptr<signal_pool_state> state);

} // namespace loophole::actors
