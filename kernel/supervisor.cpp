#include "kernel/supervisor.hpp"

#include <map>

#include "caf/event_based_actor.hpp"
#include "caf/stateful_actor.hpp"
#include "kernel/actor_system.hpp"
#include "kernel/restart_intensity.hpp"
#include "messages/type_ids.hpp"

namespace loophole::kernel {

namespace {

struct supervisor_state {
  std::vector<child_spec> children;
  std::map<caf::actor_addr, size_t> running; // child address -> index in children
  restart_intensity intensity{5, std::chrono::seconds{10}};
  static inline const char* name = "supervisor";
};

caf::behavior supervisor_actor(caf::stateful_actor<supervisor_state>* self,
                               std::vector<child_spec> children, supervisor_limits limits) {
  self->state.children = std::move(children);
  self->state.intensity = restart_intensity{limits.max_restarts, limits.period};
  auto start = [self](size_t index) {
    const auto& spec = self->state.children[index];
    auto child = spec.start(self->system());
    self->monitor(child);
    self->state.running[child.address()] = index;
    register_as(self->system(), spec.name, child);
  };
  for (size_t i = 0; i < self->state.children.size(); ++i)
    start(i);
  // The registry holds strong references: without this, actors that ended
  // would never be destroyed (and the actor system would wait for them).
  std::vector<std::string> names;
  for (const auto& spec : self->state.children)
    names.push_back(spec.name);
  self->attach_functor([sys = &self->system(), names] {
    for (const auto& name : names)
      unregister(*sys, name);
  });
  self->set_down_handler([self, start](const caf::down_msg& msg) {
    auto it = self->state.running.find(msg.source);
    if (it == self->state.running.end())
      return;
    auto index = it->second;
    self->state.running.erase(it);
    if (msg.reason == caf::exit_reason::normal || msg.reason == caf::exit_reason::user_shutdown)
      return;
    if (!self->state.intensity.try_restart(restart_intensity::clock::now())) {
      self->quit(msg.reason); // escalate
      return;
    }
    start(index);
  });
  self->set_exit_handler([self](const caf::exit_msg& msg) {
    for (auto& [addr, index] : self->state.running)
      self->send_exit(addr, msg.reason);
    self->quit(msg.reason);
  });
  return {
    [self](atoms::status_atom) { return self->state.intensity.total(); },
  };
}

} // namespace

caf::actor spawn_supervisor(caf::actor_system& sys, std::vector<child_spec> children,
                            supervisor_limits limits) {
  auto sup = sys.spawn(supervisor_actor, std::move(children), limits);
  // Its behavior (which starts and registers the children) runs before it
  // handles any message: one answered request means every child is there.
  caf::scoped_actor self{sys};
  self->request(sup, caf::infinite, atoms::status_atom::value).receive([](uint32_t) {},
                                                                      [](caf::error&) {});
  return sup;
}

} // namespace loophole::kernel
