#pragma once

// What Pulse's actors share that is not an actor: the process reaper, the
// router to Signal, and the configuration. Created once by the application
// before the actors and destroyed after them; actors hold it by shared_ptr.

#include <memory>
#include <string>

#include "config/engine_config.hpp"

namespace loophole::kernel {
class process_reaper;
}
namespace loophole::drivers {
class signal_router;
}

namespace loophole::actors {

struct pulse_context {
  config::engine_config config;
  std::string signal_executable; ///< Absolute path of loophole-signal.
  kernel::process_reaper* reaper = nullptr;
  drivers::signal_router* router = nullptr;
};

using context_ptr = std::shared_ptr<const pulse_context>;

/// Registry names of Pulse's actors (CAF 0.17 atoms: at most 10 characters).
namespace names {
inline constexpr const char* session = "session";
inline constexpr const char* media_pool = "media_pool";
inline constexpr const char* resolver = "resolver";
inline constexpr const char* signal_pool = "signals";
inline constexpr const char* orchestrator = "renderer";
} // namespace names

} // namespace loophole::actors
