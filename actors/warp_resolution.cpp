#include "actors/warp_resolution.hpp"

#include <cmath>

#include "media/warp_renderer.hpp"

namespace loophole::actors {

caf::expected<messages::media_info>
resolve_warp(const messages::warp_spec& warp, const messages::media_info& parent, int64_t offset,
             const std::function<int64_t(const messages::time_value&)>& source_frames,
             const std::function<int64_t(const messages::time_value&)>& timeline_frames,
             const std::function<caf::error(const std::string&, const std::string&)>& fail) {
  const auto end = parent.frames;
  std::vector<media::warp_point> map{{offset, 0}};
  // The map's speed after `p`, continued to the end of the media.
  auto to_the_end = [&](double timeline_per_source) {
    const auto& p = map.back();
    if (p.source < end)
      map.push_back({end, p.timeline + std::llround(static_cast<double>(end - p.source) *
                                                    timeline_per_source)});
  };
  if (warp.markers.empty()) {
    to_the_end(warp.ratio);
  } else {
    for (size_t i = 0; i < warp.markers.size(); ++i) {
      const auto at = "/warp/markers/" + std::to_string(i);
      const media::warp_point p{source_frames(warp.markers[i].source),
                                timeline_frames(warp.markers[i].timeline)};
      if (i == 0 && p == map.front())
        continue; // the clip's start, written out
      const auto& last = map.back();
      if (p.source <= last.source)
        return fail(at + "/source", "is at or before the point before it (source frame " +
                                      std::to_string(last.source) +
                                      (map.size() == 1 ? ", the clip's source offset)" : ")"));
      if (p.source > end)
        return fail(at + "/source", "is frame " + std::to_string(p.source) +
                                      ", past the end of the media (" + std::to_string(end) +
                                      " frames)");
      if (p.timeline <= last.timeline)
        return fail(at + "/timeline", "is at or before the point before it (frame " +
                                        std::to_string(last.timeline) + " of the clip)");
      const double speed = static_cast<double>(p.source - last.source) /
                           static_cast<double>(p.timeline - last.timeline);
      if (speed > media::max_warp_speed || speed < 1.0 / media::max_warp_speed)
        return fail(at, "plays the media at " + std::to_string(speed) +
                          " times its speed since the point before it; the limits are 1/16 "
                          "and 16");
      map.push_back(p);
    }
    if (map.size() < 2)
      return fail("/warp/markers", "needs a marker after the clip's start");
    const auto& a = map[map.size() - 2];
    const auto& b = map.back();
    to_the_end(static_cast<double>(b.timeline - a.timeline) /
               static_cast<double>(b.source - a.source));
  }
  if (auto why = media::check_warp_map(map, end); !why.empty())
    return fail("/warp", why);
  const auto mode = warp.mode == "varispeed" ? media::warp_mode::varispeed
                                             : media::warp_mode::stretch;
  auto derived = parent;
  derived.parent_id = parent.media_id;
  derived.media_id = media::warp_media_id(parent.media_id, mode, map, parent.sample_rate);
  derived.warp_mode = media::to_string(mode);
  for (const auto& p : map) {
    derived.warp_map.push_back(p.source);
    derived.warp_map.push_back(p.timeline);
  }
  derived.frames = map.back().timeline;
  return derived;
}

} // namespace loophole::actors
