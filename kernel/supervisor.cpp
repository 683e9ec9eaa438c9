#include "kernel/supervisor.hpp"

#include <map>
#include <memory>

#include "caf/send.hpp"

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
  // The live children, shared with the cleanup functor: however the
  // supervisor ends, its children end with it.
  std::shared_ptr<std::map<caf::actor_addr, caf::actor>> live =
    std::make_shared<std::map<caf::actor_addr, caf::actor>>();
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
    (*self->state.live)[child.address()] = child;
    register_as(self->system(), spec.name, child);
  };
  for (size_t i = 0; i < self->state.children.size(); ++i)
    start(i);
  // The registry holds strong references: without this, actors that ended
  // would never be destroyed (and the actor system would wait for them).
  std::vector<std::string> names;
  for (const auto& spec : self->state.children)
    names.push_back(spec.name);
  self->attach_functor([sys = &self->system(), names, live = self->state.live](
                         const caf::error& reason) {
    for (const auto& name : names)
      unregister(*sys, name);
    const caf::error why = reason ? reason : caf::make_error(caf::exit_reason::user_shutdown);
    for (const auto& [addr, child] : *live)
      child->enqueue(nullptr, caf::make_message_id(),
                     caf::make_message(caf::exit_msg{child.address(), why}), nullptr);
    live->clear();
  });
  self->set_down_handler([self, start](const caf::down_msg& msg) {
    auto it = self->state.running.find(msg.source);
    if (it == self->state.running.end())
      return;
    auto index = it->second;
    self->state.running.erase(it);
    self->state.live->erase(msg.source);
    if (msg.reason == caf::exit_reason::normal || msg.reason == caf::exit_reason::user_shutdown) {
      // Gone for good: its name must not hand out a dead actor.
      const auto& name = self->state.children[index].name;
      if (lookup(self->system(), name).address() == msg.source)
        unregister(self->system(), name);
      return;
    }
    if (!self->state.intensity.try_restart(restart_intensity::clock::now())) {
      self->quit(msg.reason); // escalate
      return;
    }
    start(index);
  });
  self->set_exit_handler([self](const caf::exit_msg& msg) {
    self->quit(msg.reason); // the cleanup functor stops the children
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
