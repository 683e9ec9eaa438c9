#pragma once

// Spawning and reaping child processes (Signal instances), with no zombies:
// every child gets a pidfd, one reaper thread waits on all of them and reaps
// each the moment it exits, and reports the exit through a callback.
// Children die with Pulse (PR_SET_PDEATHSIG), so even a SIGKILLed Pulse
// leaves no orphan behind.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "caf/expected.hpp"

namespace loophole::kernel {

/// How a child ended, decoded from its wait status.
struct child_exit {
  pid_t pid = 0;
  bool signalled = false; ///< Killed by a signal (then `code` is the signal).
  int code = 0;           ///< Exit status, or the signal number.

  /// "exited with status 3" / "killed by signal 9 (SIGKILL)".
  std::string describe() const;
};

/// Owns the reaper thread. One per process; thread-safe.
class process_reaper {
public:
  /// Runs on the reaper thread; must not block.
  using exit_callback = std::function<void(const child_exit&)>;

  process_reaper();
  ~process_reaper(); ///< Kills and reaps every child still running.
  process_reaper(const process_reaper&) = delete;
  process_reaper& operator=(const process_reaper&) = delete;

  /// Starts `argv[0]` (a path) with `argv`; `on_exit` runs when it ends.
  caf::expected<pid_t> spawn(const std::vector<std::string>& argv, exit_callback on_exit);

  /// Sends `sig` to a child this reaper started (no-op once it was reaped).
  void signal(pid_t pid, int sig);

  /// Sends SIGTERM to every child, waits up to `grace`, then SIGKILLs the rest
  /// and waits until all are reaped.
  void terminate_all(std::chrono::milliseconds grace);

  /// Number of children not yet reaped.
  size_t running() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace loophole::kernel
