#include "actors/resolve_cache.hpp"

#include <xxhash.h>

#include "caf/binary_serializer.hpp"

namespace loophole::actors {

std::optional<track_key> key_of_track(const messages::session_document& doc, size_t track, bool test_nodes,
                       const std::vector<const messages::media_info*>& probes) {
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  // CAF 0.17's inspectors take non-const references; the serializer only reads.
  auto& d = const_cast<messages::session_document&>(doc);
  auto& t = d.tracks[track];
  auto err = sink(t, d.sample_rate, d.bpm, d.tempo_changes, d.beats_per_bar, d.beat_unit,
                  d.meter_changes, test_nodes);
  for (const auto* probe : probes)
    if (!err)
      err = sink(const_cast<messages::media_info&>(*probe));
  for (auto& groove : d.grooves)
    for (const auto& clip : t.clips)
      if (!err && !clip.groove.empty() && clip.groove == groove.name) {
        err = sink(groove);
        break;
      }
  // A key that covers less than the track reads must not be used.
  if (err)
    return std::nullopt;
  const auto h = XXH3_128bits(buf.data(), buf.size());
  return track_key{h.high64, h.low64};
}

const track_fragment* resolve_cache::find(const track_key& key) {
  auto it = index_.find(key);
  if (it == index_.end())
    return nullptr;
  entries_.splice(entries_.begin(), entries_, it->second);
  ++reused;
  return &it->second->second;
}

const track_fragment& resolve_cache::store(const track_key& key, track_fragment fragment) {
  ++resolved;
  if (auto it = index_.find(key); it != index_.end()) {
    it->second->second = std::move(fragment);
    entries_.splice(entries_.begin(), entries_, it->second);
    return it->second->second;
  }
  entries_.emplace_front(key, std::move(fragment));
  index_.emplace(key, entries_.begin());
  while (entries_.size() > capacity_) {
    index_.erase(entries_.back().first);
    entries_.pop_back();
  }
  return entries_.front().second;
}

} // namespace loophole::actors
