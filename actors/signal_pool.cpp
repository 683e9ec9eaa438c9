#include "actors/signal_pool.hpp"

#include "actors/signal_supervisor.hpp"
#include "caf/send.hpp"
#include "messages/type_ids.hpp"

namespace loophole::actors {

void signal_pool_state::stop_all() {
  for (auto& sup : supervisors)
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  supervisors.clear();
  failed.clear();
}

signal_pool_state::~signal_pool_state() {
  stop_all();
}

caf::behavior signal_pool(caf::event_based_actor* self, context_ptr ctx,
                          std::shared_ptr<signal_pool_state> state) {
  // An orderly stop takes the supervisors (and their processes) along; a
  // pool that is killed leaves them to the next incarnation.
  self->attach_functor([state](const caf::error& reason) {
    if (!reason || reason == caf::exit_reason::user_shutdown ||
        reason == caf::exit_reason::normal)
      state->stop_all();
  });
  return {
    [self, ctx, state](atoms::lease_atom, uint32_t n) {
      auto& sups = state->supervisors;
      while (sups.size() < n)
        sups.push_back(spawn_signal_supervisor(self->system(), ctx, static_cast<uint32_t>(sups.size())));
      for (uint32_t i = 0; i < n; ++i)
        if (state->failed.erase(sups[i].address()) > 0) {
          // A fresh start instead of a failure for the new render.
          caf::anon_send_exit(sups[i], caf::exit_reason::user_shutdown);
          sups[i] = spawn_signal_supervisor(self->system(), ctx, i);
        }
      return std::vector<caf::actor>(sups.begin(), sups.begin() + n);
    },
    [state](atoms::lost_atom, const caf::actor& failed) {
      // An instance past its restart limit keeps answering for its status
      // (why it failed) until a lease needs its place.
      state->failed.insert(failed.address());
    },
    [self, state](atoms::status_atom) -> caf::result<std::vector<messages::instance_status>> {
      auto rp = self->make_response_promise<std::vector<messages::instance_status>>();
      auto pending = std::make_shared<std::vector<messages::instance_status>>();
      const auto total = state->supervisors.size();
      if (total == 0)
        return std::vector<messages::instance_status>{};
      for (const auto& sup : state->supervisors)
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
