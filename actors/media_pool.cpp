#include "actors/media_pool.hpp"

#include <sys/stat.h>

#include <atomic>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "kernel/error.hpp"
#include "media/media_error.hpp"
#include "media/media_id_cache.hpp"
#include "media/media_reader.hpp"
#include "media/resample_cache.hpp"
#include "media/shared_memory.hpp"
#include "media/transient_detector.hpp"
#include "media/warp_renderer.hpp"

namespace loophole::actors {

namespace {

caf::error to_error(const media::media_error& e) {
  using media::failure;
  switch (e.kind()) {
    case failure::not_found:
      return kernel::make_error(kernel::errc::media_not_found, e.what());
    case failure::unreadable:
    case failure::unsupported:
      return kernel::make_error(kernel::errc::bad_media, e.what());
    default:
      return kernel::make_error(kernel::errc::internal, e.what());
  }
}

// Runs fn(i) for i in [0, n) on up to `threads` threads; rethrows the first
// exception, in index order, so the error reported does not depend on timing.
template <class F>
void parallel_for(size_t n, unsigned threads, F fn) {
  std::vector<std::exception_ptr> errors(n);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      try {
        fn(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < std::min<size_t>(threads, n); ++t)
    pool.emplace_back(work);
  work();
  for (auto& t : pool)
    t.join();
  for (auto& e : errors)
    if (e)
      std::rethrow_exception(e);
}

int64_t mtime_ns(const struct stat& st) {
  return int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
}

media::resample_quality quality_of(const std::string& name) {
  if (name == "fastest")
    return media::resample_quality::fastest;
  if (name == "medium")
    return media::resample_quality::medium;
  return media::resample_quality::best;
}

// The whole of a file at the session rate: resampled (through the cache) if
// it is at another rate. Throws media_error.
media::decoded_media at_session_rate(const messages::media_info& info,
                                     media::resample_quality quality, bool use_cache) {
  const auto cache_dir = use_cache ? media::default_resample_cache_dir() : std::string{};
  const bool resampled = info.source_rate != info.sample_rate;
  auto cached = resampled ? media::load_resampled(cache_dir, info.media_id, info.sample_rate,
                                                  quality)
                          : std::nullopt;
  auto decoded = cached ? std::move(*cached)
                        : media::decode_resampled(info.path, info.sample_rate, quality);
  if (resampled && !cached)
    media::store_resampled(cache_dir, info.media_id, info.sample_rate, quality, decoded);
  if (decoded.frames != media::resampled_length(info.source_frames, info.source_rate,
                                                info.sample_rate) ||
      decoded.channels != info.channels)
    throw media::media_error(media::failure::unreadable,
                             info.path + ": changed since it was probed");
  return decoded;
}

// A warped clip's media (derived from its parent file), through the cache of
// derived media. Throws media_error.
media::decoded_media warped(const messages::media_info& info, media::resample_quality quality,
                            bool use_cache) {
  const auto cache_dir = use_cache ? media::default_warp_cache_dir() : std::string{};
  if (auto cached = media::load_resampled(cache_dir, info.media_id, info.sample_rate, quality,
                                          info.parent_id))
    return std::move(*cached);
  std::vector<media::warp_point> map;
  for (size_t i = 0; i + 1 < info.warp_map.size(); i += 2)
    map.push_back({info.warp_map[i], info.warp_map[i + 1]});
  const auto mode =
    info.warp_mode == "varispeed" ? media::warp_mode::varispeed : media::warp_mode::stretch;
  auto parent = info;
  parent.media_id = info.parent_id;
  auto decoded = media::render_warp(at_session_rate(parent, quality, use_cache), mode, map,
                                    info.sample_rate);
  media::store_resampled(cache_dir, info.media_id, info.sample_rate, quality, decoded,
                         info.parent_id);
  return decoded;
}

} // namespace

media_pool_state::media_pool_state() = default;
media_pool_state::~media_pool_state() = default;

media_pool_actor::behavior_type media_pool(media_pool_actor::pointer, context_ptr ctx,
                                           std::shared_ptr<media_pool_state> state) {
  const unsigned threads = ctx->config.decode_threads != 0
                             ? ctx->config.decode_threads
                             : std::max(1u, std::thread::hardware_concurrency());
  if (!state->ids)
    state->ids = std::make_unique<media::media_id_cache>(
      ctx->config.id_cache ? media::media_id_cache::default_path() : std::string{});
  return {
    [state, threads](atoms::probe_atom, const std::vector<std::string>& paths,
                    uint32_t rate) -> caf::result<std::vector<messages::media_info>> {
      std::vector<messages::media_info> out(paths.size());
      std::vector<int> cached(paths.size(), 0);
      std::vector<struct stat> stats(paths.size());
      for (size_t i = 0; i < paths.size(); ++i) {
        if (::stat(paths[i].c_str(), &stats[i]) != 0)
          return kernel::make_error(kernel::errc::media_not_found,
                                    paths[i] + ": " + std::strerror(errno));
        auto it = state->probes.find(paths[i]);
        if (it != state->probes.end() && it->second.size == stats[i].st_size &&
            it->second.mtime_ns == mtime_ns(stats[i])) {
          out[i] = it->second.info;
          cached[i] = 1;
        }
      }
      try {
        parallel_for(paths.size(), threads, [&](size_t i) {
          if (cached[i])
            return;
          auto p = media::probe(paths[i], state->ids->find(stats[i]).value_or(""));
          auto& info = out[i];
          info.path = p.path;
          info.media_id = p.media_id;
          info.channels = p.channels;
          info.source_frames = p.frames;
          info.source_rate = p.sample_rate;
          info.format = p.format;
        });
      } catch (const media::media_error& e) {
        return to_error(e);
      }
      for (size_t i = 0; i < paths.size(); ++i) {
        out[i].sample_rate = rate;
        out[i].frames = media::resampled_length(out[i].source_frames, out[i].source_rate, rate);
        state->probes[paths[i]] = {stats[i].st_size, mtime_ns(stats[i]), out[i]};
        state->ids->put(stats[i], out[i].media_id);
      }
      state->ids->save();
      return out;
    },
    [state, ctx, threads](atoms::acquire_atom, const std::vector<messages::media_info>& infos)
      -> caf::result<std::vector<messages::media_lease>> {
      std::vector<messages::media_lease> leases(infos.size());
      std::vector<size_t> todo; // media that must be resampled and are not resident
      std::set<std::string> planned; // the same content at two paths is made once
      for (size_t i = 0; i < infos.size(); ++i) {
        leases[i].info = infos[i];
        if (infos[i].source_rate == infos[i].sample_rate && infos[i].warp_mode.empty())
          continue; // streamed from its file
        auto name = "m" + infos[i].media_id.substr(0, 16) + "-" +
                    std::to_string(infos[i].sample_rate);
        leases[i].shm_name = name;
        if (!state->resampled.count("/loophole." + std::to_string(getpid()) + "." + name) &&
            planned.insert(name).second)
          todo.push_back(i);
      }
      std::vector<std::shared_ptr<media::shared_memory>> made(infos.size());
      try {
        parallel_for(todo.size(), threads, [&](size_t t) {
          const auto i = todo[t];
          const auto quality = quality_of(ctx->config.resample_quality);
          auto decoded = infos[i].warp_mode.empty()
                           ? at_session_rate(infos[i], quality, ctx->config.id_cache)
                           : warped(infos[i], quality, ctx->config.id_cache);
          if (decoded.frames != infos[i].frames || decoded.channels != infos[i].channels)
            throw media::media_error(media::failure::unreadable,
                                     infos[i].path + ": changed since it was probed");
          auto mem = std::make_shared<media::shared_memory>(media::shared_memory::create(
            leases[i].shm_name, decoded.samples.size() * sizeof(float)));
          std::memcpy(mem->data(), decoded.samples.data(), decoded.samples.size() * sizeof(float));
          made[i] = std::move(mem);
        });
      } catch (const media::media_error& e) {
        return to_error(e);
      }
      for (size_t i = 0; i < infos.size(); ++i) {
        if (leases[i].shm_name.empty())
          continue;
        const auto full = "/loophole." + std::to_string(getpid()) + "." + leases[i].shm_name;
        auto& r = state->resampled[full];
        if (made[i])
          r.memory = made[i];
        ++r.leases;
        leases[i].shm_name = full;
        leases[i].bytes = r.memory->size();
      }
      return leases;
    },
    [state, ctx](atoms::analyse_atom, uint32_t rate,
                 const messages::resolved_analysis& region) -> caf::result<std::vector<int64_t>> {
      // What is analysed, by content: a file probed since has its id; one
      // that was not is analysed every time.
      std::string key = std::to_string(rate);
      for (const auto& piece : region.pieces) {
        auto probed = state->probes.find(piece.path);
        if (probed == state->probes.end()) {
          key.clear();
          break;
        }
        key.append(";").append(probed->second.info.media_id);
        for (int64_t v : {piece.timeline_start, piece.source_offset, piece.length,
                          piece.loop_start, piece.loop_length})
          key.append(",").append(std::to_string(v));
      }
      if (!key.empty())
        if (auto known = state->transients.find(key); known != state->transients.end())
          return known->second;
      // The region's material in mono, over the stretch of timeline its
      // pieces cover (not the region's whole length, which may be mostly
      // empty).
      int64_t first = region.end, last = region.start;
      for (const auto& piece : region.pieces) {
        first = std::min(first, piece.timeline_start);
        last = std::max(last, piece.timeline_start + piece.length);
      }
      if (region.pieces.empty())
        return std::vector<int64_t>{};
      std::vector<float> mono(static_cast<size_t>(last - first), 0.0f);
      try {
        std::map<std::string, media::decoded_media> decoded;
        for (const auto& piece : region.pieces) {
          auto it = decoded.find(piece.path);
          if (it == decoded.end())
            it = decoded
                   .emplace(piece.path, media::decode_resampled(
                                          piece.path, rate, quality_of(ctx->config.resample_quality)))
                   .first;
          const auto& m = it->second;
          const signal::media_region placed{0, piece.timeline_start, piece.source_offset,
                                            piece.length, piece.loop_start, piece.loop_length};
          for (int64_t k = 0; k < piece.length; ++k) {
            const int64_t frame = placed.source_frame(k);
            if (frame >= m.frames)
              break;
            float sum = 0.0f;
            for (uint16_t c = 0; c < m.channels; ++c)
              sum += m.samples[static_cast<size_t>(c * m.frames + frame)];
            mono[static_cast<size_t>(piece.timeline_start - first + k)] +=
              sum / static_cast<float>(m.channels);
          }
        }
        auto onsets = media::detect_transients(mono.data(), static_cast<int64_t>(mono.size()), rate);
        for (auto& o : onsets)
          o += first;
        if (!key.empty())
          state->transients[key] = onsets;
        return onsets;
      } catch (const media::media_error& e) {
        return to_error(e);
      } catch (const std::exception& e) {
        return kernel::make_error(kernel::errc::internal, e.what());
      }
    },
    [state](atoms::release_atom, const std::vector<std::string>& names) {
      for (const auto& name : names) {
        auto it = state->resampled.find(name);
        if (it != state->resampled.end() && --it->second.leases == 0)
          state->resampled.erase(it);
      }
    },
  };
}

} // namespace loophole::actors
