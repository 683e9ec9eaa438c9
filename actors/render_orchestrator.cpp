#include "actors/render_orchestrator.hpp"

#include "actors/render_job.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/response_promise.hpp"
#include "caf/stateful_actor.hpp"
#include "kernel/error.hpp"

namespace loophole::actors {


render_orchestrator_actor::behavior_type
render_orchestrator(render_orchestrator_actor::stateful_pointer<render_orchestrator_state> self,
                    context_ptr ctx) {
  // Jobs are linked, so they stop with the orchestrator; a job that fails
  // must not take the orchestrator with it.
  self->set_exit_handler([self](const caf::exit_msg& msg) {
    auto& st = self->state;
    if (st.spawned.erase(msg.source) > 0) {
      // One of our jobs ended. If it never answered (it died), answer for it.
      if (auto it = st.jobs.find(msg.source); it != st.jobs.end()) {
        it->second.deliver(msg.reason ? msg.reason
                                      : kernel::make_error(kernel::errc::internal,
                                                           "the render job ended unanswered"));
        st.jobs.erase(it);
      }
      return;
    }
    for (auto& [job, rp] : self->state.jobs)
      rp.deliver(kernel::make_error(kernel::errc::cancelled, "the render was stopped"));
    self->state.jobs.clear();
    self->quit(msg.reason);
  });
  return {
    [self, ctx](atoms::render_atom, messages::render_plan plan, messages::render_settings settings,
                caf::actor listener) -> caf::result<messages::render_summary> {
      auto job = spawn_render_job(self, ctx, self->state.next_job++, std::move(plan),
                                  std::move(settings), std::move(listener));
      auto rp = self->make_response_promise<messages::render_summary>();
      self->state.jobs.emplace(job.address(), rp);
      self->state.spawned.insert(job.address());
      self->request(job, caf::infinite, atoms::render_atom::value)
        .then(
          [self, addr = job.address()](messages::render_summary& s) {
            if (auto it = self->state.jobs.find(addr); it != self->state.jobs.end()) {
              it->second.deliver(std::move(s));
              self->state.jobs.erase(it);
            }
          },
          [self, addr = job.address()](caf::error& err) {
            if (auto it = self->state.jobs.find(addr); it != self->state.jobs.end()) {
              it->second.deliver(std::move(err));
              self->state.jobs.erase(it);
            }
          });
      return rp;
    },
  };
}

} // namespace loophole::actors
