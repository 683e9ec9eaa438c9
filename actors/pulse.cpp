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
  // Each actor's state lives here, outside it: the supervisor's restart of
  // an actor that was killed hands the new one the same state.
  auto session_store = std::make_shared<session_state>();
  auto media_store = std::make_shared<media_pool_state>();
  auto signal_store = std::make_shared<signal_pool_state>();
  auto render_store = std::make_shared<render_orchestrator_state>();
  std::vector<kernel::child_spec> children{
    {names::session,
     [session_store](caf::actor_system& s) {
       return caf::actor_cast<caf::actor>(s.spawn(session, session_store));
     }},
    {names::media_pool,
     [ctx, media_store](caf::actor_system& s) {
       // Detached: it blocks on disk and on decoding.
       return caf::actor_cast<caf::actor>(s.spawn<caf::detached>(media_pool, ctx, media_store));
     }},
    {names::resolver,
     [](caf::actor_system& s) { return caf::actor_cast<caf::actor>(s.spawn(timeline_resolver)); }},
    {names::signal_pool,
     [ctx, signal_store](caf::actor_system& s) { return s.spawn(signal_pool, ctx, signal_store); }},
    {names::orchestrator,
     [ctx, render_store](caf::actor_system& s) {
       return caf::actor_cast<caf::actor>(s.spawn(render_orchestrator, ctx, render_store));
     }},
  };
  kernel::supervisor_limits limits{ctx->config.max_restarts,
                                   std::chrono::milliseconds{ctx->config.restart_period_ms}};
  return kernel::spawn_supervisor(sys, std::move(children), limits);
}

} // namespace loophole::actors
