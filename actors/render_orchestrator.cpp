#include "actors/render_orchestrator.hpp"

#include "actors/loudness_normalization.hpp"
#include "caf/send.hpp"
#include "kernel/error.hpp"

namespace loophole::actors {

void render_orchestrator_state::cancel_all() {
  for (auto& [addr, job] : jobs)
    caf::anon_send_exit(job, caf::exit_reason::user_shutdown);
  jobs.clear();
}

render_orchestrator_state::~render_orchestrator_state() {
  cancel_all();
}

render_orchestrator_actor::behavior_type
render_orchestrator(render_orchestrator_actor::pointer self, context_ptr ctx,
                    std::shared_ptr<render_orchestrator_state> state) {
  // Jobs are monitored, not linked: a job that fails must not take the
  // orchestrator with it, and an orchestrator that is killed must not take
  // the jobs. Those of an earlier incarnation are adopted.
  for (const auto& [addr, job] : state->jobs)
    self->monitor(job);
  self->set_down_handler([state](const caf::down_msg& msg) { state->jobs.erase(msg.source); });
  self->attach_functor([state](const caf::error& reason) {
    if (!reason || reason == caf::exit_reason::user_shutdown ||
        reason == caf::exit_reason::normal)
      state->cancel_all();
  });
  return {
    [self, ctx, state](atoms::render_atom, messages::render_plan plan,
                       messages::render_settings settings,
                       caf::actor listener) -> caf::delegated<messages::render_summary> {
      caf::actor job;
      if (settings.normalize && !settings.measure_only) {
        // Two passes, two job numbers (actors/loudness_normalization.hpp).
        const auto measuring = state->next_job++;
        job = spawn_loudness_job(self->system(), ctx, measuring, state->next_job++,
                                 std::move(plan), std::move(settings), std::move(listener));
      } else {
        job = spawn_render_job(self->system(), ctx, state->next_job++, std::move(plan),
                               std::move(settings), std::move(listener));
      }
      state->jobs.emplace(job.address(), job);
      self->monitor(job);
      self->delegate(job, atoms::render_atom::value); // the job answers the requester
      return {};
    },
  };
}

} // namespace loophole::actors
