#include "signal/partition_executor.hpp"

#include "signal/vector_kernels.hpp"

#include <algorithm>
#include <cstring>

namespace loophole::signal {


template <class Sample>
basic_partition_executor<Sample>::~basic_partition_executor() = default;

template <class Sample>
basic_partition_executor<Sample>::basic_partition_executor(const render_graph& graph,
                                                           uint32_t partition, bus_layout layout,
                                                           uint32_t max_block)
  : layout_(std::move(layout)), max_block_(max_block) {
  std::vector<size_t> local_of(graph.nodes.size(), SIZE_MAX);
  auto source_of = [&](uint32_t id) {
    source s;
    s.channels = graph.nodes[id].channels;
    if (const auto* region = layout_.find(id)) {
      s.from_bus = true;
      s.bus_offset = region->offset;
    } else {
      s.local = local_of[id];
    }
    return s;
  };
  // Constant gain and pan nodes are folded into the node before them when
  // nothing else reads that node: one pass over the audio instead of three.
  // Whether a fold happens depends on the graph alone, so every instance
  // computes the same bits.
  std::vector<size_t> readers(graph.nodes.size(), 0);
  for (const auto& node : graph.nodes)
    for (auto in : node.inputs)
      ++readers[in];
  std::vector<size_t> producer(graph.nodes.size(), SIZE_MAX); // step writing a node's output
  size_t n_inputs = 0;
  for (auto id : topological_order(graph)) {
    const auto& node = graph.nodes[id];
    if (node.partition != partition)
      continue;
    if (node.inputs.size() == 1) {
      const auto in = node.inputs[0];
      const auto p = producer[in];
      channel_map map{};
      channel_gains gains{};
      if (p != SIZE_MAX && readers[in] == 1 && !layout_.find(in) && steps_[p].processor &&
          as_channel_map(node, graph.nodes[in].channels, map, gains) &&
          steps_[p].processor->fold_output_gain(node.channels, map, gains)) {
        producer[id] = p;
        if (!layout_.find(id)) {
          local_of[id] = locals_.size();
          locals_.emplace_back(size_t{node.channels} * max_block, Sample{});
        }
        steps_[p].out = source_of(id);
        steps_[p].output_node = id;
        continue;
      }
    }
    producer[id] = steps_.size();
    step st;
    st.node = id;
    st.output_node = id;
    if (node.kind == node_kind::output) {
      sink_.emplace(node);
    } else {
      st.processor = make_processor<Sample>(graph, node);
      st.processor->prepare(max_block);
      if (!layout_.find(id)) {
        local_of[id] = locals_.size();
        locals_.emplace_back(size_t{node.channels} * max_block, Sample{});
      }
      st.out = source_of(id);
    }
    if (const auto* window = layout_.window_of(id))
      windows_.emplace_back(*window, steps_.size());
    for (auto in : node.inputs)
      st.inputs.push_back(source_of(in));
    st.input_nodes = node.inputs;
    st.input_base = static_cast<uint16_t>(n_inputs);
    n_inputs += st.inputs.size();
    steps_.push_back(std::move(st));
  }
  input_views_.resize(n_inputs);
  passed_.resize(locals_.size());
}

template <class Sample>
uint32_t basic_partition_executor<Sample>::steps_inputs_node(const step& st) const noexcept {
  return st.input_nodes.empty() ? st.node : st.input_nodes.front();
}

template <class Sample>
auto basic_partition_executor<Sample>::view_of(const source& s, std::byte* slot, uint32_t offset,
                                               uint32_t frames) noexcept -> view {
  view v;
  v.channels = s.channels;
  v.frames = frames;
  if (s.from_bus) {
    auto* base = reinterpret_cast<Sample*>(slot + s.bus_offset);
    for (uint16_t c = 0; c < s.channels; ++c)
      v.channel[c] = base + size_t{c} * layout_.segment_frames + offset;
  } else if (passed_[s.local]) {
    v = *passed_[s.local];
  } else {
    Sample* base = locals_[s.local].data();
    for (uint16_t c = 0; c < s.channels; ++c)
      v.channel[c] = base + size_t{c} * max_block_;
  }
  return v;
}

template <class Sample>
void basic_partition_executor<Sample>::begin_rt(int64_t first_frame, uint32_t count,
                                                std::byte* slot) noexcept {
  non_finite_node_.reset();
  for (const auto& [window, s] : windows_) {
    planar_region region;
    region.base = reinterpret_cast<const float*>(slot + window.offset);
    region.channels = window.channels;
    region.frames = count;
    region.stride = layout_.segment_frames;
    region.first_frame = first_frame;
    steps_[s].processor->bind_media(region);
  }
}

template <class Sample>
auto basic_partition_executor<Sample>::inputs_rt(step& st, std::byte* slot, uint32_t done,
                                                 uint32_t n) noexcept -> std::span<const view> {
  auto* views = input_views_.data() + st.input_base;
  for (size_t i = 0; i < st.inputs.size(); ++i)
    views[i] = view_of(st.inputs[i], slot, done, n);
  return {views, st.inputs.size()};
}

// Every node's output, while it is still in the cache: the node named is the
// one that made the value, not the next one to export it.
template <class Sample>
void basic_partition_executor<Sample>::check_rt(const step& st, const view& out,
                                                const process_context& ctx) noexcept {
  if (non_finite_node_)
    return;
  for (uint16_t c = 0; c < out.channels; ++c)
    if (!kernels::all_finite(out[c], ctx.frames)) {
      non_finite_node_ = st.processor ? st.node : steps_inputs_node(st);
      non_finite_frame_ = ctx.timeline_frame;
      return;
    }
}

template <class Sample>
void basic_partition_executor<Sample>::run_step_rt(step& st, const process_context& ctx,
                                                   std::byte* slot, uint32_t done) noexcept {
  const auto inputs = inputs_rt(st, slot, done, ctx.frames);
  record(recorder_, recorder_phase::process, st.node, ctx.timeline_frame);
  if (!st.processor) {
    check_rt(st, inputs[0], ctx);
    auto* dest = slot + layout_.sink_offset + size_t{done} * layout_.sink_channels * 4u;
    sink_->write_rt(ctx.timeline_frame, inputs[0], dest);
    return;
  }
  if (!st.out.from_bus) {
    // A node that can pass a view of memory it would only copy does; its
    // readers in this block read that instead of its buffer.
    auto& passed = passed_[st.out.local];
    passed.reset();
    view v;
    if (st.processor->pass_view_rt(ctx, v)) {
      passed = v;
      check_rt(st, v, ctx);
      return;
    }
  }
  const auto out = view_of(st.out, slot, done, ctx.frames);
  st.processor->process_rt(ctx, inputs, out);
  check_rt(st, out, ctx);
}

template <class Sample>
void basic_partition_executor<Sample>::run_rt(int64_t first_frame, uint32_t count,
                                              std::byte* slot, block_hook hook) noexcept {
  begin_rt(first_frame, count, slot);
  for (uint32_t done = 0; done < count;) {
    const uint32_t n = std::min(max_block_, count - done);
    const process_context ctx{first_frame + done, n};
    for (auto& st : steps_)
      run_step_rt(st, ctx, slot, done);
    done += n;
    if (hook.call && done < count)
      hook.call(hook.context);
  }
  record(recorder_, recorder_phase::idle, 0, first_frame + count);
}

// -- cohorts --------------------------------------------------------------------

template <class Sample>
basic_partition_cohort<Sample>::basic_partition_cohort(std::vector<executor*> members)
  : members_(std::move(members)) {
  for (const auto* m : members_) {
    max_steps_ = std::max(max_steps_, m->steps_.size());
    max_block_ = std::max(max_block_, m->max_block_);
  }
  taken_.resize(members_.size());
  group_.reserve(members_.size());
  processors_.reserve(members_.size());
  inputs_.reserve(members_.size());
  outputs_.reserve(members_.size());
}

template <class Sample>
void basic_partition_cohort<Sample>::run_rt(int64_t first_frame, uint32_t count,
                                            std::byte* slot, block_hook hook) noexcept {
  for (auto* m : members_)
    m->begin_rt(first_frame, count, slot);
  for (uint32_t done = 0; done < count;) {
    const uint32_t n = std::min(max_block_, count - done);
    const process_context ctx{first_frame + done, n};
    for (size_t k = 0; k < max_steps_; ++k) {
      // Step k of every member, in member order; those whose nodes share a
      // cohort key with an earlier member's go with it. A member made with
      // another block size runs alone after the loop.
      for (size_t i = 0; i < members_.size(); ++i)
        taken_[i] = k >= members_[i]->steps_.size() || members_[i]->max_block_ != max_block_;
      for (size_t i = 0; i < members_.size(); ++i) {
        if (taken_[i])
          continue;
        auto& st = members_[i]->steps_[k];
        const uint64_t key = st.processor ? st.processor->cohort_key() : 0;
        group_.clear();
        group_.push_back(i);
        taken_[i] = 1;
        for (size_t j = i + 1; key != 0 && j < members_.size(); ++j) {
          if (taken_[j])
            continue;
          const auto& other = members_[j]->steps_[k];
          if (other.processor && other.processor->cohort_key() == key) {
            group_.push_back(j);
            taken_[j] = 1;
          }
        }
        if (group_.size() == 1) {
          members_[i]->run_step_rt(st, ctx, slot, done);
          continue;
        }
        processors_.clear();
        inputs_.clear();
        outputs_.clear();
        for (auto j : group_) {
          auto& m = *members_[j];
          auto& s = m.steps_[k];
          processors_.push_back(s.processor.get());
          inputs_.push_back(m.inputs_rt(s, slot, done, n));
          outputs_.push_back(m.view_of(s.out, slot, done, n));
          record(m.recorder_, recorder_phase::process, s.node, ctx.timeline_frame);
        }
        processors_[0]->process_cohort_rt(ctx, processors_, inputs_, outputs_);
        for (size_t g = 0; g < group_.size(); ++g) {
          auto& m = *members_[group_[g]];
          m.check_rt(m.steps_[k], outputs_[g], ctx);
        }
      }
    }
    done += n;
    if (hook.call && done < count)
      hook.call(hook.context);
  }
  for (auto* m : members_) {
    if (m->max_block_ != max_block_)
      m->run_rt(first_frame, count, slot, hook);
    record(m->recorder_, recorder_phase::idle, 0, first_frame + count);
  }
}

template <class Sample>
std::vector<node_snapshot> basic_partition_executor<Sample>::snapshot() const {
  std::vector<node_snapshot> states;
  for (const auto& st : steps_) {
    if (!st.processor)
      continue;
    record(recorder_, recorder_phase::snapshot, st.node, 0);
    auto bytes = st.processor->snapshot();
    if (!bytes.empty())
      states.push_back({st.node, std::move(bytes)});
  }
  record(recorder_, recorder_phase::idle, 0, 0);
  return states;
}

template <class Sample>
std::string basic_partition_executor<Sample>::restore(uint32_t node,
                                                      std::span<const std::byte> bytes) {
  for (auto& st : steps_) {
    if (st.node != node || !st.processor)
      continue;
    record(recorder_, recorder_phase::restore, node, 0);
    const bool ok = st.processor->restore(bytes);
    record(recorder_, recorder_phase::idle, 0, 0);
    return ok ? std::string{} : "the state does not fit node " + std::to_string(node);
  }
  return "node " + std::to_string(node) + " is not processed in this partition";
}

template class basic_partition_executor<float>;
template class basic_partition_executor<double>;
template class basic_partition_cohort<float>;
template class basic_partition_cohort<double>;

namespace {

std::variant<basic_partition_executor<float>, basic_partition_executor<double>>
executor_for(const render_graph& graph, uint32_t partition, bus_layout layout,
             uint32_t max_block) {
  if (graph.precision == sample_precision::float64)
    return basic_partition_executor<double>(graph, partition, std::move(layout), max_block);
  return basic_partition_executor<float>(graph, partition, std::move(layout), max_block);
}

} // namespace

partition_executor::partition_executor(const render_graph& graph, uint32_t partition,
                                       bus_layout layout, uint32_t max_block)
  : executor_(executor_for(graph, partition, std::move(layout), max_block)) {}

void partition_executor::run_rt(int64_t first_frame, uint32_t count, std::byte* slot,
                                block_hook hook) noexcept {
  std::visit([&](auto& e) { e.run_rt(first_frame, count, slot, hook); }, executor_);
}

std::optional<uint32_t> partition_executor::non_finite_node() const noexcept {
  return std::visit([](const auto& e) { return e.non_finite_node(); }, executor_);
}

int64_t partition_executor::non_finite_frame() const noexcept {
  return std::visit([](const auto& e) { return e.non_finite_frame(); }, executor_);
}

std::vector<node_snapshot> partition_executor::snapshot() const {
  return std::visit([](const auto& e) { return e.snapshot(); }, executor_);
}

std::string partition_executor::restore(uint32_t node, std::span<const std::byte> bytes) {
  return std::visit([&](auto& e) { return e.restore(node, bytes); }, executor_);
}

void partition_executor::set_recorder(flight_record* recorder) noexcept {
  std::visit([&](auto& e) { e.set_recorder(recorder); }, executor_);
}

template <class Sample>
basic_partition_cohort<Sample> partition_cohort::typed(
  const std::vector<partition_executor*>& members) {
  std::vector<basic_partition_executor<Sample>*> executors;
  for (auto* m : members)
    executors.push_back(&std::get<basic_partition_executor<Sample>>(m->executor_));
  return basic_partition_cohort<Sample>(std::move(executors));
}

partition_cohort::cohort_variant partition_cohort::cohort_for(
  const std::vector<partition_executor*>& members) {
  if (!members.empty() &&
      std::holds_alternative<basic_partition_executor<double>>(members.front()->executor_))
    return typed<double>(members);
  return typed<float>(members);
}

partition_cohort::partition_cohort(std::vector<partition_executor*> members)
  : cohort_(cohort_for(members)) {}

void partition_cohort::run_rt(int64_t first_frame, uint32_t count, std::byte* slot,
                              block_hook hook) noexcept {
  std::visit([&](auto& c) { c.run_rt(first_frame, count, slot, hook); }, cohort_);
}

} // namespace loophole::signal
