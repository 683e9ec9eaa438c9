#include "actors/signal_supervisor.hpp"

#include <signal.h>

#include <chrono>
#include <vector>

#include "caf/event_based_actor.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/response_promise.hpp"
#include "caf/send.hpp"
#include "drivers/signal_router.hpp"
#include "kernel/child_process.hpp"
#include "kernel/actor_system.hpp"
#include "kernel/error.hpp"
#include "kernel/restart_intensity.hpp"
#include "messages/type_ids.hpp"
#include "messages/wire/signal_protocol.hpp"

namespace loophole::actors {

using clock = std::chrono::steady_clock;
using messages::instance_state;

struct signal_supervisor_state {
  context_ptr ctx;
  uint32_t index = 0;
  uint32_t generation = 0;
  std::string instance; // routing id of the current process: "w<index>.<generation>"
  pid_t pid = 0;
  instance_state state = instance_state::starting;
  clock::time_point started;
  clock::time_point last_seen;
  std::string last_failure;
  std::string kill_reason; // why we killed the current process, if we did
  bool killed_silent = false; // we killed it for silence: a hang, the node's doing
  kernel::restart_intensity intensity{5, std::chrono::seconds{10}};
  caf::actor client;
  std::vector<caf::response_promise> waiting; // attach requests before hello
  std::shared_ptr<pid_t> live_pid = std::make_shared<pid_t>(0); // for the cleanup functor
  static inline const char* name = "signal_supervisor";
};

namespace {

using self_ptr = caf::stateful_actor<signal_supervisor_state>*;

void fail_waiting(self_ptr self, const std::string& why) {
  for (auto& rp : self->state.waiting)
    rp.deliver(kernel::make_error(kernel::errc::worker_unavailable, why));
  self->state.waiting.clear();
}

void tell_pool_failed(self_ptr self) {
  if (auto pool = kernel::lookup(self->system(), names::signal_pool))
    self->send(caf::actor_cast<caf::actor>(pool), atoms::lost_atom::value,
               caf::actor_cast<caf::actor>(self));
}

void start_process(self_ptr self) {
  auto& st = self->state;
  ++st.generation;
  st.instance = "w" + std::to_string(st.index) + "." + std::to_string(st.generation);
  st.state = instance_state::starting;
  st.started = clock::now();
  st.last_seen = st.started;
  st.ctx->router->attach(st.instance, caf::actor_cast<caf::actor>(self));
  std::vector<std::string> argv{st.ctx->signal_executable,
                                "--endpoint",
                                st.ctx->router->endpoint(),
                                "--instance",
                                st.instance,
                                "--heartbeat-ms",
                                std::to_string(st.ctx->config.heartbeat_ms),
                                "--memory-limit-mb",
                                std::to_string(st.ctx->config.memory_limit_mb)};
  auto me = caf::actor_cast<caf::actor>(self);
  auto pid = st.ctx->reaper->spawn(argv, [me](const kernel::child_exit& ex) {
    caf::anon_send(me, atoms::exited_atom::value, int64_t{ex.pid}, ex.signalled,
                   int32_t{ex.code});
  });
  if (!pid) {
    st.state = instance_state::failed;
    st.last_failure = kernel::describe(pid.error());
    st.ctx->router->detach(st.instance);
    fail_waiting(self, st.last_failure);
    tell_pool_failed(self);
    return;
  }
  st.pid = *pid;
  *st.live_pid = *pid;
}

/// Kills the current process for `reason`; the exit report says why.
void kill_process(self_ptr self, std::string reason, bool silent = false) {
  auto& st = self->state;
  if (st.pid <= 0)
    return;
  st.kill_reason = std::move(reason);
  st.killed_silent = silent;
  st.ctx->reaper->signal(st.pid, SIGKILL);
}

/// `attributable`: the process ended by its own doing (a crash signal, an
/// exit status, a hang we ended), not by a SIGKILL or SIGTERM from outside;
/// the render job then blames the node its flight recorder names.
void lose_process(self_ptr self, const std::string& why, bool attributable) {
  auto& st = self->state;
  st.last_failure = st.instance + " (pid " + std::to_string(st.pid) + ") " + why;
  if (!st.kill_reason.empty())
    st.last_failure += " after " + st.kill_reason;
  attributable = attributable || st.killed_silent;
  st.kill_reason.clear();
  st.killed_silent = false;
  st.ctx->router->detach(st.instance);
  if (st.client) {
    self->send(st.client, atoms::lost_atom::value, st.last_failure, attributable);
    st.client = nullptr;
  }
  st.pid = 0;
  *st.live_pid = 0;
  if (!st.intensity.try_restart(clock::now())) {
    st.state = instance_state::failed;
    // The pool lends it no more: it starts a new supervisor for the next lease.
    tell_pool_failed(self);
    st.last_failure += "; restart limit of " + std::to_string(st.intensity.max_restarts()) +
                       " reached (within " +
                       std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        st.intensity.period())
                                        .count()) +
                       " ms): not restarted";
    fail_waiting(self, st.last_failure);
    return;
  }
  st.state = instance_state::restarting;
  start_process(self);
}

} // namespace

namespace {

caf::behavior signal_supervisor(caf::stateful_actor<signal_supervisor_state>* self,
                                context_ptr ctx, uint32_t index) {
  auto& st = self->state;
  st.ctx = ctx;
  st.index = index;
  st.intensity = kernel::restart_intensity{ctx->config.max_restarts,
                                           std::chrono::milliseconds{ctx->config.restart_period_ms}};
  // Whatever ends this actor, the process goes with it.
  self->attach_functor([live = st.live_pid, reaper = ctx->reaper] {
    if (*live > 0)
      reaper->signal(*live, SIGKILL);
  });
  start_process(self);
  const auto tick = std::chrono::milliseconds{std::max(50u, ctx->config.heartbeat_ms)};
  self->delayed_send(self, tick, atoms::tick_atom::value);
  return {
    [self](atoms::attach_atom, caf::actor client) -> caf::result<bool> {
      auto& s = self->state;
      if (s.state == instance_state::failed)
        return kernel::make_error(kernel::errc::worker_unavailable, s.last_failure);
      if (s.client && s.client != client)
        return kernel::make_error(kernel::errc::worker_unavailable,
                                  s.instance + " is busy with another render");
      if (s.state == instance_state::ready || s.state == instance_state::busy) {
        s.client = std::move(client);
        s.state = instance_state::busy;
        return true;
      }
      auto rp = self->make_response_promise();
      s.waiting.push_back(rp);
      // The client is set when the hello arrives; remember it with the promise.
      s.client = std::move(client);
      return caf::delegated<bool>{};
    },
    [self](atoms::detach_atom) {
      auto& s = self->state;
      s.client = nullptr;
      if (s.state == instance_state::busy)
        s.state = instance_state::ready;
    },
    [self](atoms::submit_atom, std::string& frame) {
      self->state.ctx->router->send(self->state.instance, std::move(frame));
    },
    [self](atoms::status_atom) {
      const auto& s = self->state;
      return messages::instance_status{s.instance, s.pid, s.state, s.intensity.total(),
                                       s.last_failure};
    },
    [self](atoms::frame_atom, std::string& frame) {
      auto& s = self->state;
      s.last_seen = clock::now();
      auto msg = wire::decode(frame);
      if (!msg.value) {
        // A process that speaks garbage is not to be trusted with audio.
        kill_process(self, "it sent a malformed frame (" + msg.error + ")");
        return;
      }
      if (auto* h = std::get_if<wire::hello>(&*msg.value)) {
        if (h->instance != s.instance || h->protocol != wire::protocol_version) {
          kill_process(self, "it said hello as '" + h->instance + "', protocol " +
                               std::to_string(h->protocol));
          return;
        }
        s.state = s.client ? instance_state::busy : instance_state::ready;
        for (auto& rp : s.waiting)
          rp.deliver(true);
        s.waiting.clear();
        return;
      }
      if (std::holds_alternative<wire::heartbeat>(*msg.value))
        return;
      if (s.client)
        self->send(s.client, atoms::frame_atom::value, std::move(frame));
    },
    [self](atoms::exited_atom, int64_t pid, bool signalled, int32_t code) {
      if (pid != self->state.pid)
        return; // a process we already gave up on
      kernel::child_exit ex{static_cast<pid_t>(pid), signalled, code};
      const bool external = signalled && (code == SIGKILL || code == SIGTERM || code == SIGINT ||
                                          code == SIGHUP);
      lose_process(self, ex.describe(), !external && (signalled || code != 0));
    },
    [self, tick](atoms::tick_atom) {
      auto& s = self->state;
      const auto now = clock::now();
      const auto silent = now - s.last_seen;
      if (s.pid > 0) {
        if (s.state == instance_state::starting || s.state == instance_state::restarting) {
          if (now - s.started > std::chrono::milliseconds{s.ctx->config.start_timeout_ms} &&
              s.kill_reason.empty())
            kill_process(self, "it did not say hello within " +
                                 std::to_string(s.ctx->config.start_timeout_ms) + " ms");
        } else if (silent > std::chrono::milliseconds{s.ctx->config.heartbeat_timeout_ms} &&
                   s.kill_reason.empty()) {
          // Stuck in a node, stopped, or deadlocked: the reaper reports the kill.
          kill_process(self,
                       "it was silent (no heartbeat) for over " +
                         std::to_string(s.ctx->config.heartbeat_timeout_ms) + " ms",
                       true);
        }
      }
      self->delayed_send(self, tick, atoms::tick_atom::value);
    },
  };
}

} // namespace

caf::actor spawn_signal_supervisor(caf::actor_system& sys, context_ptr ctx, uint32_t index) {
  return sys.spawn(signal_supervisor, std::move(ctx), index);
}

} // namespace loophole::actors
