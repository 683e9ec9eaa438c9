#include "media/media_id_cache.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace loophole::media {

namespace {

int64_t ns_of(const struct timespec& t) {
  return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

bool is_media_id(const std::string& s) {
  if (s.size() != 32)
    return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  return true;
}

} // namespace

media_id_cache::media_id_cache(std::string path) : path_(std::move(path)) {
  std::ifstream in{path_};
  std::string line;
  if (!std::getline(in, line) || line != "loophole-media-ids 1")
    return;
  while (std::getline(in, line) && entries_.size() < max_entries) {
    std::istringstream fields{line};
    uint64_t dev = 0, ino = 0;
    entry e;
    if (fields >> dev >> ino >> e.size >> e.mtime_ns >> e.ctime_ns >> e.media_id &&
        is_media_id(e.media_id))
      entries_[{dev, ino}] = e;
  }
}

std::string media_id_cache::default_path() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg == '/')
    return std::string{xdg} + "/loophole/media-ids.tsv";
  if (const char* home = std::getenv("HOME"); home && *home == '/')
    return std::string{home} + "/.cache/loophole/media-ids.tsv";
  return {};
}

std::optional<std::string> media_id_cache::find(const struct stat& st) const {
  auto it = entries_.find({static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)});
  if (it == entries_.end())
    return std::nullopt;
  const auto& e = it->second;
  if (e.size != st.st_size || e.mtime_ns != ns_of(st.st_mtim) || e.ctime_ns != ns_of(st.st_ctim))
    return std::nullopt;
  return e.media_id;
}

void media_id_cache::put(const struct stat& st, const std::string& media_id) {
  if (path_.empty() || !is_media_id(media_id))
    return;
  if (entries_.size() >= max_entries)
    entries_.erase(entries_.begin());
  entries_[{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)}] =
    entry{st.st_size, ns_of(st.st_mtim), ns_of(st.st_ctim), media_id};
  dirty_ = true;
}

void media_id_cache::save() {
  if (!dirty_ || path_.empty())
    return;
  std::error_code ec;
  const std::filesystem::path target{path_};
  std::filesystem::create_directories(target.parent_path(), ec);
  const auto temp = path_ + ".tmp-" + std::to_string(getpid());
  {
    std::ofstream out{temp, std::ios::trunc};
    if (!out)
      return;
    out << "loophole-media-ids 1\n";
    for (const auto& [k, e] : entries_)
      out << std::get<0>(k) << ' ' << std::get<1>(k) << ' ' << e.size << ' ' << e.mtime_ns << ' '
          << e.ctime_ns << ' ' << e.media_id << '\n';
    if (!out)
      return;
  }
  std::filesystem::rename(temp, target, ec);
  if (ec)
    std::filesystem::remove(temp, ec);
  dirty_ = false;
}

} // namespace loophole::media
