#include "kernel/actor_system.hpp"

#include <thread>

#include "caf/actor_registry.hpp"
#include "kernel/error.hpp"
#include "messages/type_ids.hpp"

namespace loophole::kernel {

void configure(caf::actor_system_config& cfg, unsigned worker_threads) {
  cfg.add_message_types<caf::id_block::loophole>();
  cfg.add_error_category(error_category, [](uint8_t code, caf::atom_value, const caf::message& ctx) {
    auto text = to_string(static_cast<errc>(code));
    if (ctx.match_elements<std::string>())
      text += ": " + ctx.get_as<std::string>(0);
    return text;
  });
  if (worker_threads == 0)
    worker_threads = std::max(2u, std::thread::hardware_concurrency());
  cfg.set("scheduler.max-threads", static_cast<size_t>(worker_threads));
  // Work sharing blocks idle threads on a condition variable; the default
  // work stealing polls, which takes CPU from the Signal processes beside us.
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.set("logger.verbosity", caf::atom("quiet"));
  cfg.set("logger.console", caf::atom("none"));
}

void register_as(caf::actor_system& sys, const std::string& name, const caf::actor& who) {
  // CAF 0.17's put() keeps an existing entry: erase first, or a restarted
  // actor would never be found under its name.
  const auto key = caf::atom_from_string(name);
  sys.registry().erase(key);
  sys.registry().put(key, caf::actor_cast<caf::strong_actor_ptr>(who));
}

void unregister(caf::actor_system& sys, const std::string& name) {
  sys.registry().erase(caf::atom_from_string(name));
}

caf::actor lookup(caf::actor_system& sys, const std::string& name) {
  return caf::actor_cast<caf::actor>(sys.registry().get(caf::atom_from_string(name)));
}

} // namespace loophole::kernel
