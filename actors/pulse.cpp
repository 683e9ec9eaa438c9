#include "actors/pulse.hpp"

#include "actors/media_pool.hpp"
#include "actors/render_orchestrator.hpp"
#include "actors/session.hpp"
#include "actors/signal_pool.hpp"
#include "actors/timeline_resolver.hpp"
#include "caf/actor_cast.hpp"
#include "caf/event_based_actor.hpp"
#include "kernel/supervisor.hpp"

namespace loophole::actors {

caf::actor start_pulse(caf::actor_system& sys, context_ptr ctx) {
  std::vector<kernel::child_spec> children{
    {names::session, [](caf::actor_system& s) { return caf::actor_cast<caf::actor>(s.spawn(session)); }},
    {names::media_pool,
     [ctx](caf::actor_system& s) {
       // Detached: it blocks on disk and on decoding.
       return caf::actor_cast<caf::actor>(s.spawn<caf::detached>(media_pool, ctx));
     }},
    {names::resolver,
     [](caf::actor_system& s) { return caf::actor_cast<caf::actor>(s.spawn(timeline_resolver)); }},
    {names::signal_pool, [ctx](caf::actor_system& s) { return s.spawn(signal_pool, ctx); }},
    {names::orchestrator,
     [ctx](caf::actor_system& s) {
       return caf::actor_cast<caf::actor>(s.spawn(render_orchestrator, ctx));
     }},
  };
  kernel::supervisor_limits limits{ctx->config.max_restarts,
                                   std::chrono::milliseconds{ctx->config.restart_period_ms}};
  return kernel::spawn_supervisor(sys, std::move(children), limits);
}

} // namespace loophole::actors
