#pragma once

// An OTP-style one-for-one supervisor for Pulse's actors: it spawns each
// child, monitors it, publishes it in the registry under its name, and when a
// child dies abnormally starts a new one (which recovers its state from
// wherever it keeps it). More than `max_restarts` within `period` and the
// supervisor gives up and exits with the child's error: escalation to its
// own parent.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "caf/scoped_actor.hpp"

namespace loophole::kernel {

/// How to start one supervised actor.
struct child_spec {
  std::string name; ///< Registry name (at most 10 characters).
  std::function<caf::actor(caf::actor_system&)> start;
};

struct supervisor_limits {
  uint32_t max_restarts = 5;
  std::chrono::milliseconds period{10'000};
};

/// Spawns the supervisor and waits until it has started and registered every
/// child. It answers (status_atom) with the restart count; when it ends, it
/// removes its children's names from the registry.
caf::actor spawn_supervisor(caf::actor_system& sys, std::vector<child_spec> children,
                            supervisor_limits limits = {});

} // namespace loophole::kernel
