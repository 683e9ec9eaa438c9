#include "apps/loophole/progress_printer.hpp"

#include <cstdio>
#include <string>

#include "caf/event_based_actor.hpp"
#include "messages/type_ids.hpp"

namespace loophole::apps {

namespace {

std::string clock_text(double seconds) {
  if (seconds < 0)
    seconds = 0;
  const auto s = static_cast<long>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

caf::behavior printer(caf::event_based_actor*, progress_mode mode) {
  return {
    [mode](const messages::render_progress& p) {
      const double total = static_cast<double>(p.frames_total);
      const double done = static_cast<double>(p.frames_done);
      const double fraction = total > 0 ? done / total : 1.0;
      const double speed = p.elapsed_seconds > 0 ? done / p.elapsed_seconds : 0.0;
      if (mode == progress_mode::json) {
        std::printf("{\"event\":\"progress\",\"job\":%llu,\"frames_done\":%lld,"
                    "\"frames_total\":%lld,\"sample_rate\":%u,\"elapsed_seconds\":%.3f}\n",
                    static_cast<unsigned long long>(p.job), static_cast<long long>(p.frames_done),
                    static_cast<long long>(p.frames_total), p.sample_rate, p.elapsed_seconds);
        std::fflush(stdout);
        return;
      }
      if (mode != progress_mode::bar)
        return;
      constexpr int width = 30;
      const int filled = static_cast<int>(fraction * width);
      std::string bar(static_cast<size_t>(filled), '#');
      bar.resize(width, '-');
      const double eta = speed > 0 ? (total - done) / speed : 0.0;
      const double realtime = p.sample_rate > 0 ? speed / p.sample_rate : 0.0;
      std::fprintf(stderr, "\r[%s] %3d%%  %6.1fx realtime  ETA %s ", bar.c_str(),
                   static_cast<int>(fraction * 100.0), realtime, clock_text(eta).c_str());
      if (p.frames_done >= p.frames_total)
        std::fputc('\n', stderr);
      std::fflush(stderr);
    },
  };
}

} // namespace

caf::actor spawn_progress_printer(caf::actor_system& sys, progress_mode mode) {
  return sys.spawn(printer, mode);
}

} // namespace loophole::apps
