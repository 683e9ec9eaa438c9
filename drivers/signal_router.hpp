#pragma once

// The ZeroMQ side of Pulse <-> Signal: one thread owns the ROUTER socket that
// every local Signal instance's DEALER connects to. Frames from an instance
// are delivered to the actor attached to its routing id as
// (frame_atom, std::string); actors hand frames to send through a queue the
// thread drains (woken by an eventfd), so no socket is ever touched by two
// threads.

#include <memory>
#include <string>

#include "caf/actor.hpp"

namespace loophole::drivers {

class signal_router {
public:
  /// Binds the ROUTER to `endpoint` (e.g. "ipc:///run/user/1000/loophole-42/signal")
  /// and starts the thread. Throws std::runtime_error if it cannot bind.
  explicit signal_router(std::string endpoint);
  ~signal_router(); ///< Stops the thread and closes the socket.
  signal_router(const signal_router&) = delete;
  signal_router& operator=(const signal_router&) = delete;

  const std::string& endpoint() const noexcept;

  /// Delivers frames from routing id `id` to `handler`. Thread-safe.
  void attach(const std::string& id, caf::actor handler);

  /// Stops delivering frames from `id`. Thread-safe.
  void detach(const std::string& id);

  /// Queues `frame` for the instance `id`; dropped if it is not connected.
  /// Thread-safe; never blocks on the network.
  void send(const std::string& id, std::string frame);

  /// Frames dropped because they were too large, malformed in framing, or
  /// from an unknown peer.
  uint64_t dropped() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A private folder for this process's endpoints: $XDG_RUNTIME_DIR/loophole-<pid>
/// (or /tmp/loophole-<uid>-<pid>), mode 0700. Removed by `remove_runtime_dir`;
/// folders of earlier runs whose process is gone are removed first.
std::string make_runtime_dir();
void remove_runtime_dir(const std::string& dir);

} // namespace loophole::drivers
