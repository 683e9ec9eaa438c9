#include "actors/render_orchestrator.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>
#include <set>
#include <thread>

#include "caf/event_based_actor.hpp"
#include "caf/response_promise.hpp"
#include "caf/stateful_actor.hpp"
#include "kernel/actor_system.hpp"
#include "kernel/error.hpp"
#include "media/media_error.hpp"
#include "media/output_file.hpp"
#include "media/segment_feeder.hpp"
#include "media/shared_memory.hpp"
#include "messages/wire/signal_protocol.hpp"
#include "signal/bus_layout.hpp"

namespace loophole::actors {

using clock = std::chrono::steady_clock;

std::vector<uint32_t> assign_partitions(const signal::render_graph& graph, uint32_t workers) {
  const auto np = graph.partitions.size();
  std::vector<size_t> weight(np, 0);
  for (const auto& n : graph.nodes)
    ++weight[n.partition];
  std::vector<uint32_t> order(np);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return weight[a] > weight[b]; });
  std::vector<size_t> load(workers, 0);
  std::vector<uint32_t> owner(np, 0);
  for (auto p : order) {
    auto w = static_cast<uint32_t>(std::min_element(load.begin(), load.end()) - load.begin());
    owner[p] = w;
    load[w] += weight[p];
  }
  return owner;
}

namespace {

caf::error media_failure(const media::media_error& e) {
  using media::failure;
  switch (e.kind()) {
    case failure::exists:
      return kernel::make_error(kernel::errc::output_exists, e.what());
    case failure::unwritable:
    case failure::unsupported:
      return kernel::make_error(kernel::errc::output_unwritable, e.what());
    case failure::not_found:
      return kernel::make_error(kernel::errc::media_not_found, e.what());
    case failure::unreadable:
      return kernel::make_error(kernel::errc::bad_media, e.what());
    case failure::io:
      return kernel::make_error(kernel::errc::output_failed, e.what());
    case failure::resources:
      return kernel::make_error(kernel::errc::internal, e.what());
  }
  return kernel::make_error(kernel::errc::internal, e.what());
}

// -- the feeder and the writer: detached, because they block on disk ---------

struct job_memory {
  std::shared_ptr<media::shared_memory> bus;
  signal::bus_layout layout;
};

caf::behavior feeder_actor(caf::event_based_actor*, std::shared_ptr<media::segment_feeder> feeder,
                           job_memory mem) {
  return {
    [feeder, mem](atoms::fill_atom, uint32_t slot, int64_t first,
                  uint32_t count) -> caf::result<bool> {
      try {
        feeder->fill(mem.bus->data() + slot * mem.layout.slot_bytes, first, count);
        return true;
      } catch (const media::media_error& e) {
        return media_failure(e);
      } catch (const std::exception& e) {
        return kernel::make_error(kernel::errc::internal,
                                  std::string{"streaming media failed: "} + e.what());
      }
    },
  };
}

caf::behavior writer_actor(caf::event_based_actor*, std::shared_ptr<media::output_file> out,
                           job_memory mem, bool float_samples) {
  return {
    [out, mem, float_samples](atoms::write_atom, uint32_t slot,
                              uint32_t count) -> caf::result<bool> {
      try {
        const auto* sink = mem.bus->data() + slot * mem.layout.slot_bytes + mem.layout.sink_offset;
        if (float_samples)
          out->write_float(reinterpret_cast<const float*>(sink), count);
        else
          out->write_int(reinterpret_cast<const int32_t*>(sink), count);
        return true;
      } catch (const media::media_error& e) {
        return media_failure(e);
      } catch (const std::exception& e) {
        return kernel::make_error(kernel::errc::output_failed,
                                  std::string{"writing failed: "} + e.what());
      }
    },
    [out](atoms::commit_atom) -> caf::result<bool> {
      try {
        out->commit();
        return true;
      } catch (const media::media_error& e) {
        return media_failure(e);
      } catch (const std::exception& e) {
        return kernel::make_error(kernel::errc::output_failed,
                                  std::string{"finishing the file failed: "} + e.what());
      }
    },
  };
}

// -- the job ------------------------------------------------------------------

struct render_job_state {
  context_ptr ctx;
  uint64_t job = 0;
  messages::render_plan plan;
  messages::render_settings settings;
  caf::actor listener;
  caf::response_promise rp;
  bool finished = false;
  clock::time_point started;
  clock::time_point streaming; // when the first segment was filled: progress speeds count from here
  clock::time_point last_progress;

  job_memory mem;
  uint32_t slots = 0;
  uint32_t segment_frames = 0;
  int64_t segments = 0;
  uint32_t partitions = 0;
  uint32_t sink_partition = 0;
  std::vector<std::vector<uint32_t>> inputs_of;    // partition -> partitions it reads
  std::vector<std::vector<uint32_t>> consumers_of; // partition -> partitions reading it

  std::vector<caf::actor> workers;
  std::vector<uint32_t> owner; // partition -> worker index
  size_t ready = 0;

  struct slot_state {
    int64_t segment = -1;
    std::vector<uint8_t> done; // per partition
  };
  std::vector<slot_state> slot_states;
  int64_t next_fill = 0;
  int64_t next_write = 0;
  std::set<int64_t> writable; // segments whose sink is rendered, not yet sent to the writer
  int64_t written = 0;        // segments written
  int64_t frames_written = 0;
  double peak = 0;

  caf::actor feeder;
  caf::actor writer;
  std::vector<std::string> leases;
  static inline const char* name = "render_job";
};

using job_ptr = caf::stateful_actor<render_job_state>*;

int64_t first_frame_of(job_ptr self, int64_t segment) {
  return self->state.plan.graph.first_frame + segment * self->state.segment_frames;
}

uint32_t frames_of(job_ptr self, int64_t segment) {
  const auto& g = self->state.plan.graph;
  const int64_t begin = segment * self->state.segment_frames;
  return static_cast<uint32_t>(std::min<int64_t>(self->state.segment_frames, g.frame_count - begin));
}

void finish(job_ptr self, caf::error err, messages::render_summary summary = {}) {
  auto& st = self->state;
  if (st.finished)
    return;
  st.finished = true;
  for (auto& w : st.workers) {
    self->send(w, atoms::submit_atom::value, wire::encode(wire::unload_job{st.job}));
    self->send(w, atoms::detach_atom::value);
  }
  if (!st.leases.empty())
    if (auto pool = kernel::lookup(self->system(), names::media_pool))
      self->send(caf::actor_cast<caf::actor>(pool), atoms::release_atom::value, st.leases);
  if (st.feeder)
    self->send_exit(st.feeder, caf::exit_reason::user_shutdown);
  if (st.writer)
    self->send_exit(st.writer, caf::exit_reason::user_shutdown);
  if (err)
    st.rp.deliver(std::move(err));
  else
    st.rp.deliver(std::move(summary));
  self->quit();
}

void fill(job_ptr self, int64_t segment);

/// Sends each instance one message with the partitions of `ready` it owns.
void dispatch(job_ptr self, int64_t segment, const std::vector<uint32_t>& ready) {
  auto& st = self->state;
  for (size_t w = 0; w < st.workers.size(); ++w) {
    wire::render_task task{st.job,
                           static_cast<uint64_t>(segment),
                           {},
                           static_cast<uint32_t>(segment % st.slots),
                           first_frame_of(self, segment),
                           frames_of(self, segment)};
    for (auto p : ready)
      if (st.owner[p] == w)
        task.partitions.push_back(p);
    if (!task.partitions.empty())
      self->send(st.workers[w], atoms::submit_atom::value, wire::encode(task));
  }
}

void report_progress(job_ptr self, bool last) {
  auto& st = self->state;
  if (!st.listener)
    return;
  const auto now = clock::now();
  if (!last && now - st.last_progress < std::chrono::milliseconds{100})
    return;
  st.last_progress = now;
  self->send(st.listener, messages::render_progress{
                            st.job, st.frames_written, st.plan.graph.frame_count,
                            st.plan.graph.sample_rate,
                            std::chrono::duration<double>(now - st.streaming).count()});
}

void commit(job_ptr self) {
  auto& st = self->state;
  self->request(st.writer, caf::infinite, atoms::commit_atom::value)
    .then(
      [self](bool) {
        auto& s = self->state;
        messages::render_summary sum;
        sum.job = s.job;
        sum.output_path = s.settings.output_path;
        sum.format = s.settings.format;
        sum.bits = s.settings.bits;
        sum.channels = s.mem.layout.sink_channels;
        sum.sample_rate = s.plan.graph.sample_rate;
        sum.frames = s.frames_written;
        sum.peak = s.peak;
        sum.elapsed_seconds = std::chrono::duration<double>(clock::now() - s.started).count();
        sum.workers = static_cast<uint32_t>(s.workers.size());
        report_progress(self, true);
        finish(self, caf::error{}, sum);
      },
      [self](caf::error& err) { finish(self, std::move(err)); });
}

void write_ready_segments(job_ptr self) {
  auto& st = self->state;
  while (!st.writable.empty() && *st.writable.begin() == st.next_write) {
    const int64_t segment = st.next_write++;
    st.writable.erase(st.writable.begin());
    const auto slot = static_cast<uint32_t>(segment % st.slots);
    const auto count = frames_of(self, segment);
    self->request(st.writer, caf::infinite, atoms::write_atom::value, slot, count)
      .then(
        [self, segment, count](bool) {
          auto& s = self->state;
          s.frames_written += count;
          ++s.written;
          s.slot_states[static_cast<size_t>(segment % s.slots)].segment = -1;
          report_progress(self, false);
          if (s.next_fill < s.segments)
            fill(self, s.next_fill++);
          if (s.written == s.segments)
            commit(self);
        },
        [self](caf::error& err) { finish(self, std::move(err)); });
  }
}

void fill(job_ptr self, int64_t segment) {
  auto& st = self->state;
  auto& slot = st.slot_states[static_cast<size_t>(segment % st.slots)];
  slot.segment = segment;
  std::fill(slot.done.begin(), slot.done.end(), 0);
  self->request(st.feeder, caf::infinite, atoms::fill_atom::value,
                static_cast<uint32_t>(segment % st.slots), first_frame_of(self, segment),
                frames_of(self, segment))
    .then(
      [self, segment](bool) {
        auto& s = self->state;
        std::vector<uint32_t> ready;
        for (uint32_t p = 0; p < s.partitions; ++p)
          if (s.inputs_of[p].empty())
            ready.push_back(p);
        dispatch(self, segment, ready);
      },
      [self](caf::error& err) { finish(self, std::move(err)); });
}

void on_task_done(job_ptr self, const wire::task_done& done) {
  auto& st = self->state;
  const auto segment = static_cast<int64_t>(done.task);
  auto& slot = st.slot_states[static_cast<size_t>(segment % st.slots)];
  if (slot.segment != segment)
    return; // stale
  std::vector<uint32_t> ready;
  bool sink_done = false;
  for (auto partition : done.partitions) {
    if (partition >= st.partitions || slot.done[partition])
      continue; // duplicate
    slot.done[partition] = 1;
    sink_done = sink_done || partition == st.sink_partition;
    for (auto q : st.consumers_of[partition]) {
      const auto& ins = st.inputs_of[q];
      if (std::all_of(ins.begin(), ins.end(), [&](uint32_t i) { return slot.done[i] != 0; }) &&
          std::find(ready.begin(), ready.end(), q) == ready.end())
        ready.push_back(q);
    }
  }
  std::sort(ready.begin(), ready.end());
  if (!ready.empty())
    dispatch(self, segment, ready);
  if (sink_done) {
    st.peak = std::max(st.peak, done.peak);
    st.writable.insert(segment);
    write_ready_segments(self);
  }
}

void start_pipeline(job_ptr self) {
  auto& st = self->state;
  st.streaming = clock::now();
  for (uint32_t i = 0; i < st.slots && st.next_fill < st.segments; ++i)
    fill(self, st.next_fill++);
}

void load_workers(job_ptr self) {
  auto& st = self->state;
  std::vector<std::vector<uint32_t>> parts(st.workers.size());
  for (uint32_t p = 0; p < st.partitions; ++p)
    parts[st.owner[p]].push_back(p);
  for (size_t w = 0; w < st.workers.size(); ++w) {
    wire::load_job msg;
    msg.job = st.job;
    msg.graph = st.plan.graph;
    msg.partitions = parts[w];
    msg.bus_shm = st.mem.bus->name();
    msg.bus_bytes = st.mem.bus->size();
    msg.slots = st.slots;
    msg.segment_frames = st.segment_frames;
    msg.block_frames = st.settings.block_frames;
    auto frame = wire::encode(msg);
    // An instance would drop a frame over the limit without a word: say so here.
    if (frame.size() > wire::max_frame_bytes)
      return finish(self, kernel::make_error(
                            kernel::errc::bad_graph,
                            "the render graph is too large to send to Signal (" +
                              std::to_string(frame.size() >> 20) + " MiB encoded, limit " +
                              std::to_string(wire::max_frame_bytes >> 20) + " MiB)"));
    self->send(st.workers[w], atoms::submit_atom::value, std::move(frame));
  }
}

void lease_workers(job_ptr self) {
  auto& st = self->state;
  auto pool = kernel::lookup(self->system(), names::signal_pool);
  if (!pool)
    return finish(self, kernel::make_error(kernel::errc::internal, "the Signal pool is not running"));
  uint32_t n = st.settings.workers != 0 ? st.settings.workers
                                        : std::max(1u, std::thread::hardware_concurrency());
  n = std::min<uint32_t>(n, st.partitions);
  self->request(pool, caf::infinite, atoms::lease_atom::value, n)
    .then(
      [self](const std::vector<caf::actor>& sups) {
        auto& s = self->state;
        s.workers = sups;
        s.owner = assign_partitions(s.plan.graph, static_cast<uint32_t>(sups.size()));
        auto attached = std::make_shared<size_t>(0);
        const auto timeout = std::chrono::milliseconds{s.ctx->config.start_timeout_ms + 2000};
        for (const auto& sup : sups)
          self->request(sup, timeout, atoms::attach_atom::value, caf::actor_cast<caf::actor>(self))
            .then(
              [self, attached](bool) {
                if (++*attached == self->state.workers.size())
                  load_workers(self);
              },
              [self](caf::error& err) {
                finish(self, kernel::make_error(kernel::errc::worker_unavailable,
                                                "no Signal instance: " + kernel::describe(err)));
              });
      },
      [self](caf::error& err) { finish(self, std::move(err)); });
}

void start_job(job_ptr self) {
  auto& st = self->state;
  const auto& g = st.plan.graph;
  st.started = clock::now();
  st.partitions = static_cast<uint32_t>(g.partitions.size());
  st.sink_partition = g.nodes[g.output_node].partition;
  st.inputs_of.assign(st.partitions, {});
  st.consumers_of.assign(st.partitions, {});
  for (const auto& n : g.nodes)
    for (auto in : n.inputs) {
      const auto from = g.nodes[in].partition;
      auto& ins = st.inputs_of[n.partition];
      if (from != n.partition && std::find(ins.begin(), ins.end(), from) == ins.end()) {
        ins.push_back(from);
        st.consumers_of[from].push_back(n.partition);
      }
    }
  st.segment_frames = static_cast<uint32_t>(
    std::min<int64_t>(st.settings.segment_frames, g.frame_count));
  st.segments = (g.frame_count + st.segment_frames - 1) / st.segment_frames;
  st.slots = static_cast<uint32_t>(std::min<int64_t>(st.settings.segments_in_flight, st.segments));
  st.slot_states.assign(st.slots, {-1, std::vector<uint8_t>(st.partitions, 0)});
  st.mem.layout = signal::bus_layout::make(g, st.segment_frames);

  const bool float_samples = st.settings.bits == 0;
  std::shared_ptr<media::output_file> out;
  try {
    media::output_spec spec;
    spec.path = st.settings.output_path;
    spec.format = *media::parse_output_format(st.settings.format);
    spec.bits = st.settings.bits;
    spec.channels = st.mem.layout.sink_channels;
    spec.sample_rate = g.sample_rate;
    spec.frames = g.frame_count;
    spec.force = st.settings.force;
    spec.vbr_quality = st.settings.vbr_quality;
    spec.title = st.plan.metadata.title;
    spec.artist = st.plan.metadata.artist;
    spec.comment = st.plan.metadata.comment;
    spec.date = st.plan.metadata.date;
    spec.time_reference = g.first_frame;
    out = std::make_shared<media::output_file>(spec);
    st.mem.bus = std::make_shared<media::shared_memory>(media::shared_memory::create(
      "bus" + std::to_string(st.job), st.mem.layout.slot_bytes * st.slots));
  } catch (const media::media_error& e) {
    return finish(self, media_failure(e));
  }
  st.writer = self->spawn<caf::detached + caf::linked>(writer_actor, out, st.mem, float_samples);

  auto pool = kernel::lookup(self->system(), names::media_pool);
  if (!pool)
    return finish(self, kernel::make_error(kernel::errc::internal, "the media pool is not running"));
  self->request(pool, caf::infinite, atoms::acquire_atom::value, st.plan.media)
    .then(
      [self](const std::vector<messages::media_lease>& leases) {
        auto& s = self->state;
        std::vector<media::media_source> sources;
        try {
          for (const auto& lease : leases) {
            media::media_source src;
            src.path = lease.info.path;
            if (!lease.shm_name.empty()) {
              s.leases.push_back(lease.shm_name);
              const auto needed = static_cast<uint64_t>(lease.info.frames) * lease.info.channels *
                                  sizeof(float);
              if (lease.bytes < needed)
                return finish(self, kernel::make_error(kernel::errc::internal,
                                                       lease.shm_name + " is smaller than its media"));
              auto mem = std::make_shared<media::shared_memory>(
                media::shared_memory::open(lease.shm_name, lease.bytes));
              src.samples = reinterpret_cast<const float*>(mem->data());
              src.channels = lease.info.channels;
              src.frames = lease.info.frames;
              src.owner = std::move(mem);
            }
            sources.push_back(std::move(src));
          }
        } catch (const media::media_error& e) {
          return finish(self, media_failure(e));
        } catch (const std::exception& e) {
          return finish(self, kernel::make_error(kernel::errc::internal,
                                                 std::string{"media leases: "} + e.what()));
        }
        const unsigned threads = s.ctx->config.decode_threads != 0
                                   ? s.ctx->config.decode_threads
                                   : std::max(1u, std::thread::hardware_concurrency());
        auto feeder = std::make_shared<media::segment_feeder>(s.plan.graph, s.mem.layout,
                                                              std::move(sources), threads);
        s.feeder = self->spawn<caf::detached + caf::linked>(feeder_actor, feeder, s.mem);
        lease_workers(self);
      },
      [self](caf::error& err) { finish(self, std::move(err)); });
}

caf::behavior render_job(job_ptr self, context_ptr ctx, uint64_t job, messages::render_plan plan,
                         messages::render_settings settings, caf::actor listener) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.job = job;
  st.plan = std::move(plan);
  st.settings = std::move(settings);
  st.listener = std::move(listener);
  // Linked to the orchestrator: when it stops, the job stops cleanly (Signal
  // instances unloaded, leases released, the temporary output removed).
  self->set_exit_handler([self](const caf::exit_msg& msg) {
    if (msg.reason == caf::exit_reason::normal && msg.source != self->state.writer &&
        msg.source != self->state.feeder)
      return;
    const bool helper = msg.source == self->state.writer || msg.source == self->state.feeder;
    finish(self, helper ? kernel::make_error(kernel::errc::internal,
                                             std::string{"the render's "} +
                                               (msg.source == self->state.writer ? "writer"
                                                                                 : "feeder") +
                                               " stopped: " + caf::to_string(msg.reason))
                        : kernel::make_error(kernel::errc::cancelled, "the render was stopped"));
    self->quit(msg.reason);
  });
  return {
    [self](atoms::render_atom) {
      self->state.rp = self->make_response_promise();
      start_job(self);
      return self->state.rp;
    },
    [self](atoms::frame_atom, const std::string& frame) {
      auto& s = self->state;
      auto msg = wire::decode(frame);
      if (!msg.value)
        return finish(self, kernel::make_error(kernel::errc::protocol,
                                               "a Signal instance sent a malformed frame: " +
                                                 msg.error));
      if (auto* done = std::get_if<wire::task_done>(&*msg.value)) {
        if (done->job == s.job)
          on_task_done(self, *done);
      } else if (auto* ready = std::get_if<wire::job_ready>(&*msg.value)) {
        if (ready->job == s.job && ++s.ready == s.workers.size())
          start_pipeline(self);
      } else if (auto* f = std::get_if<wire::failure>(&*msg.value)) {
        // Job 0: the instance could not even read what we sent it.
        if (f->job == s.job || f->job == 0)
          finish(self, kernel::make_error(static_cast<kernel::errc>(f->code),
                                          "Signal: " + f->message));
      }
    },
    [self](atoms::lost_atom, const std::string& why) {
      auto& s = self->state;
      finish(self, kernel::make_error(
                     kernel::errc::worker_failed,
                     "Signal instance " + why + " during the render (segment " +
                       std::to_string(s.next_write) + " of " + std::to_string(s.segments) +
                       "); the output was not written"));
    },
  };
}

} // namespace

render_orchestrator_actor::behavior_type
render_orchestrator(render_orchestrator_actor::stateful_pointer<render_orchestrator_state> self,
                    context_ptr ctx) {
  // Jobs are linked, so they stop with the orchestrator; a job that fails
  // must not take the orchestrator with it.
  self->set_exit_handler([self](const caf::exit_msg& msg) {
    auto& st = self->state;
    if (st.spawned.erase(msg.source) > 0) {
      // One of our jobs ended. If it never answered (it died), answer for it.
      if (auto it = st.jobs.find(msg.source); it != st.jobs.end()) {
        it->second.deliver(msg.reason ? msg.reason
                                      : kernel::make_error(kernel::errc::internal,
                                                           "the render job ended unanswered"));
        st.jobs.erase(it);
      }
      return;
    }
    for (auto& [job, rp] : self->state.jobs)
      rp.deliver(kernel::make_error(kernel::errc::cancelled, "the render was stopped"));
    self->state.jobs.clear();
    self->quit(msg.reason);
  });
  return {
    [self, ctx](atoms::render_atom, messages::render_plan plan, messages::render_settings settings,
                caf::actor listener) -> caf::result<messages::render_summary> {
      auto job = self->spawn<caf::linked>(render_job, ctx, self->state.next_job++, std::move(plan),
                             std::move(settings), std::move(listener));
      auto rp = self->make_response_promise<messages::render_summary>();
      self->state.jobs.emplace(job.address(), rp);
      self->state.spawned.insert(job.address());
      self->request(job, caf::infinite, atoms::render_atom::value)
        .then(
          [self, addr = job.address()](messages::render_summary& s) {
            if (auto it = self->state.jobs.find(addr); it != self->state.jobs.end()) {
              it->second.deliver(std::move(s));
              self->state.jobs.erase(it);
            }
          },
          [self, addr = job.address()](caf::error& err) {
            if (auto it = self->state.jobs.find(addr); it != self->state.jobs.end()) {
              it->second.deliver(std::move(err));
              self->state.jobs.erase(it);
            }
          });
      return rp;
    },
  };
}

} // namespace loophole::actors
