#pragma once

// Start-up of Pulse's actor system: the project's type-ID block and error
// category registered, the scheduler sized, CAF's own console output off.

#include <string>

#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"

namespace loophole::kernel {

/// Registers the project's message types and error category with `cfg` and
/// sets the scheduler to `worker_threads` threads (0: one per core).
void configure(caf::actor_system_config& cfg, unsigned worker_threads = 0);

/// Publishes `who` under `name` in the system's registry (replacing any
/// earlier actor of that name, e.g. after a restart).
void register_as(caf::actor_system& sys, const std::string& name, const caf::actor& who);

/// Removes `name` from the registry.
void unregister(caf::actor_system& sys, const std::string& name);

/// The actor registered under `name`, or an invalid handle.
caf::actor lookup(caf::actor_system& sys, const std::string& name);

} // namespace loophole::kernel
