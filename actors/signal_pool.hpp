#pragma once

// The pool of local Signal instances: starts one signal_supervisor per
// instance on demand (linked, so they stop with the pool) and lends them to
// render jobs.
//
//   (lease, n) -> std::vector<caf::actor>   n supervisors (started if needed)
//   (lost, supervisor)                      from a supervisor whose instance failed for
//                                           good: the next lease replaces it
//   (status)   -> std::vector<instance_status>

#include <set>

#include "actors/pulse_context.hpp"
#include "caf/actor.hpp"
#include "caf/behavior.hpp"
#include "caf/stateful_actor.hpp"

namespace loophole::actors {

struct signal_pool_state {
  std::vector<caf::actor> supervisors;
  std::set<caf::actor_addr> failed; ///< Supervisors whose instance failed for good.
  static inline const char* name = "signal_pool";
};

caf::behavior signal_pool(caf::stateful_actor<signal_pool_state>* self, context_ptr ctx);

} // namespace loophole::actors
