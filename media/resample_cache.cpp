#include "media/resample_cache.hpp"

#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace loophole::media {

namespace {

// The file: this header, then the samples (planar float, host order).
struct header {
  char magic[8] = {'L', 'P', 'H', 'R', 'S', 'M', 'P', '2'};
  uint32_t rate = 0;
  uint16_t channels = 0;
  uint8_t quality = 0;
  uint8_t reserved = 0;
  int64_t frames = 0;
  uint64_t checksum = 0; // XXH3-64 of the samples
  char media_id[32] = {};
  char parent_id[32] = {}; // derived media: what they were made from; else zeros
};

// The parent field as stored: the id, or zeros.
void set_parent(char (&field)[32], const std::string& parent_id) {
  std::memset(field, 0, sizeof field);
  std::memcpy(field, parent_id.data(), std::min(parent_id.size(), sizeof field));
}

std::string cache_dir(const char* leaf) {
  std::string base;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg == '/')
    base = xdg;
  else if (const char* home = std::getenv("HOME"); home && *home == '/')
    base = std::string{home} + "/.cache";
  else
    return {};
  return base.append("/loophole/").append(leaf);
}

std::string file_name(const std::string& dir, const std::string& media_id, uint32_t rate,
                      resample_quality quality) {
  return dir + "/" + media_id + "-" + std::to_string(rate) + "-q" +
         std::to_string(static_cast<int>(quality)) + ".f32";
}

} // namespace

std::string default_resample_cache_dir() {
  return cache_dir("resampled");
}

std::string default_warp_cache_dir() {
  return cache_dir("warped");
}

std::optional<decoded_media> load_resampled(const std::string& dir, const std::string& media_id,
                                            uint32_t rate, resample_quality quality,
                                            const std::string& parent_id) {
  if (dir.empty() || media_id.size() != 32)
    return std::nullopt;
  try {
    std::ifstream in{file_name(dir, media_id, rate, quality), std::ios::binary};
    header h;
    if (!in.read(reinterpret_cast<char*>(&h), sizeof h))
      return std::nullopt;
    header expected;
    set_parent(expected.parent_id, parent_id);
    if (std::memcmp(h.parent_id, expected.parent_id, 32) != 0 ||
        std::memcmp(h.magic, expected.magic, sizeof h.magic) != 0 || h.rate != rate ||
        h.quality != static_cast<uint8_t>(quality) ||
        std::memcmp(h.media_id, media_id.data(), 32) != 0 || h.channels == 0 ||
        h.channels > 32 || h.frames < 0 || h.frames > (int64_t{1} << 40))
      return std::nullopt;
    decoded_media m;
    m.channels = h.channels;
    m.frames = h.frames;
    m.samples.resize(static_cast<size_t>(h.frames) * h.channels);
    const auto bytes = static_cast<std::streamsize>(m.samples.size() * sizeof(float));
    if (!in.read(reinterpret_cast<char*>(m.samples.data()), bytes) || in.peek() != EOF)
      return std::nullopt;
    if (XXH3_64bits(m.samples.data(), static_cast<size_t>(bytes)) != h.checksum)
      return std::nullopt;
    return m;
  } catch (...) {
    return std::nullopt;
  }
}

void store_resampled(const std::string& dir, const std::string& media_id, uint32_t rate,
                     resample_quality quality, const decoded_media& media,
                     const std::string& parent_id) {
  if (dir.empty() || media_id.size() != 32)
    return;
  try {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    const auto target = file_name(dir, media_id, rate, quality);
    const auto temp = target + ".tmp-" + std::to_string(getpid()) + "-" +
                      std::to_string(reinterpret_cast<uintptr_t>(&media));
    header h;
    h.rate = rate;
    h.channels = media.channels;
    h.quality = static_cast<uint8_t>(quality);
    h.frames = media.frames;
    h.checksum = XXH3_64bits(media.samples.data(), media.samples.size() * sizeof(float));
    std::memcpy(h.media_id, media_id.data(), 32);
    set_parent(h.parent_id, parent_id);
    {
      std::ofstream out{temp, std::ios::binary | std::ios::trunc};
      out.write(reinterpret_cast<const char*>(&h), sizeof h);
      out.write(reinterpret_cast<const char*>(media.samples.data()),
                static_cast<std::streamsize>(media.samples.size() * sizeof(float)));
      if (!out) {
        std::filesystem::remove(temp, ec);
        return;
      }
    }
    std::filesystem::rename(temp, target, ec);
    if (ec)
      std::filesystem::remove(temp, ec);
  } catch (...) {
  }
}

} // namespace loophole::media
