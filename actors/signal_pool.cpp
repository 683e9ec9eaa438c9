#include "actors/signal_pool.hpp"

#include "actors/signal_supervisor.hpp"
#include "caf/event_based_actor.hpp"
#include "messages/type_ids.hpp"

namespace loophole::actors {

caf::behavior signal_pool(caf::stateful_actor<signal_pool_state>* self, context_ptr ctx) {
  return {
    [self, ctx](atoms::lease_atom, uint32_t n) {
      auto& sups = self->state.supervisors;
      while (sups.size() < n)
        sups.push_back(spawn_signal_supervisor(self, ctx, static_cast<uint32_t>(sups.size())));
      for (uint32_t i = 0; i < n; ++i)
        if (self->state.failed.erase(sups[i].address()) > 0) {
          // A fresh start instead of a failure for the new render.
          self->unlink_from(sups[i]);
          self->send_exit(sups[i], caf::exit_reason::user_shutdown);
          sups[i] = spawn_signal_supervisor(self, ctx, i);
        }
      return std::vector<caf::actor>(sups.begin(), sups.begin() + n);
    },
    [self](atoms::lost_atom, const caf::actor& failed) {
      // An instance past its restart limit keeps answering for its status
      // (why it failed) until a lease needs its place.
      self->state.failed.insert(failed.address());
    },
    [self](atoms::status_atom) -> caf::result<std::vector<messages::instance_status>> {
      auto rp = self->make_response_promise<std::vector<messages::instance_status>>();
      auto pending = std::make_shared<std::vector<messages::instance_status>>();
      const auto total = self->state.supervisors.size();
      if (total == 0)
        return std::vector<messages::instance_status>{};
      for (const auto& sup : self->state.supervisors)
        self->request(sup, std::chrono::seconds{5}, atoms::status_atom::value)
          .then(
            [rp, pending, total](const messages::instance_status& st) mutable {
              pending->push_back(st);
              if (pending->size() == total)
                rp.deliver(*pending);
            },
            [rp](caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
  };
}

} // namespace loophole::actors
