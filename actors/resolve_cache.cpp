#include "actors/resolve_cache.hpp"

#include <algorithm>

#include "caf/meta/annotation.hpp"

#include <string>
#include <type_traits>
#include <xxhash.h>

namespace loophole::actors {

namespace {

template <class T> struct is_vector : std::false_type {};
template <class T> struct is_vector<std::vector<T>> : std::true_type {};

// Gathers the bytes of every field `inspect` lists of a value, as CAF's
// serializer would write them (so a field added to a spec is hashed without
// a word here), for one XXH3 at the end. Not CAF's serializer: its error
// object per field made keys cost as much as resolving; nor XXH3 streaming:
// an update per small field costs more than the copy.
class hasher {
public:
  using result_type = void;
  static constexpr bool reads_state = true;
  static constexpr bool writes_state = false;

  template <class... Ts> void operator()(Ts&&... xs) { (apply(xs), ...); }

  track_key digest() const {
    const auto h = XXH3_128bits(bytes_.data(), bytes_.size());
    return {h.high64, h.low64};
  }

private:
  template <class T> void apply(T& x) {
    using U = std::remove_cv_t<T>;
    if constexpr (caf::meta::is_annotation<U>::value) {
      // type names: the positions of the fields tell the types apart
    } else if constexpr (std::is_arithmetic_v<U> || std::is_enum_v<U>) {
      bytes_.append(reinterpret_cast<const char*>(&x), sizeof x);
    } else if constexpr (std::is_same_v<U, std::string>) {
      apply_size(x.size());
      bytes_.append(x);
    } else if constexpr (is_vector<U>::value) {
      apply_size(x.size());
      for (auto& e : x)
        apply(e);
    } else {
      inspect(*this, const_cast<U&>(x)); // 0.17's inspect takes non-const references
    }
  }

  void apply_size(size_t n) { apply(n); }

  std::string bytes_;
};

} // namespace

track_key key_of_track(const messages::session_document& doc, size_t track, bool test_nodes,
                       const std::vector<const messages::media_info*>& probes,
                       const clip_transients& transients) {
  hasher h;
  const auto& t = doc.tracks[track];
  h(t, doc.sample_rate, doc.bpm, doc.tempo_changes, doc.beats_per_bar, doc.beat_unit,
    doc.meter_changes, test_nodes);
  for (const auto* probe : probes)
    h(*probe);
  for (const auto& groove : doc.grooves)
    for (const auto& clip : t.clips)
      if (!clip.groove.empty() && clip.groove == groove.name) {
        h(groove);
        break;
      }
  // A grooved audio clip is sliced at the transients known, or not at all.
  if (std::any_of(t.clips.begin(), t.clips.end(),
                  [](const auto& c) { return !c.midi && !c.groove.empty(); }))
    for (const auto& [stretch, onsets] : transients)
      h(stretch, onsets);
  return h.digest();
}

track_fragment* resolve_cache::find(const track_key& key) {
  auto it = index_.find(key);
  if (it == index_.end())
    return nullptr;
  entries_.splice(entries_.begin(), entries_, it->second);
  ++reused;
  return &it->second->second;
}

track_fragment& resolve_cache::store(const track_key& key, track_fragment fragment) {
  ++resolved;
  if (auto it = index_.find(key); it != index_.end()) {
    it->second->second = std::move(fragment);
    entries_.splice(entries_.begin(), entries_, it->second);
    return it->second->second;
  }
  entries_.emplace_front(key, std::move(fragment));
  index_.emplace(key, entries_.begin());
  return entries_.front().second;
}

void resolve_cache::trim() {
  while (entries_.size() > capacity_) {
    index_.erase(entries_.back().first);
    entries_.pop_back();
  }
}

} // namespace loophole::actors
