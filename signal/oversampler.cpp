#include "signal/oversampler.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

#include "signal/node_catalog.hpp"

namespace loophole::signal {

namespace {

constexpr double design_attenuation_db = 110.0;

// A half-band low-pass at the high rate (normalised: 0.5 is its Nyquist),
// symmetric about 0.25: passband to 0.25 - transition / 2. Kaiser-windowed
// sinc, K the smallest odd half length Kaiser's formula allows. The odd taps
// are scaled to sum to 1/4 a side, so DC passes exactly and Nyquist is a zero.
halfband_stage design(double transition) {
  const double a = design_attenuation_db;
  const double beta = 0.1102 * (a - 8.7);
  const double order = (a - 7.95) / (14.36 * transition);
  auto k = static_cast<uint32_t>(std::ceil(order / 2.0));
  if (k % 2 == 0)
    ++k;
  halfband_stage s;
  s.half_length = k;
  const double i0_beta = std::cyl_bessel_i(0.0, beta);
  double sum = 0.0;
  for (uint32_t d = 1; d <= k; d += 2) {
    const double x = static_cast<double>(d) / static_cast<double>(k);
    const double window = std::cyl_bessel_i(0.0, beta * std::sqrt(1.0 - x * x)) / i0_beta;
    const double arg = std::numbers::pi * static_cast<double>(d) / 2.0;
    const double tap = 0.5 * std::sin(arg) / arg * window;
    s.odd_taps.push_back(tap);
    sum += tap;
  }
  for (auto& t : s.odd_taps)
    t *= 0.25 / sum;
  return s;
}

// Stage 1 (base -> 2x) keeps 0.45 of the base rate: passband 0.225, stopband
// from 0.275 of its high rate. Later stages only need to reject the images of
// what the stage before passed (up to 0.55 of the base rate, its transition
// band included), so their transitions are wide and their filters short.
const std::vector<halfband_stage>& stages() {
  static const std::vector<halfband_stage> designed = [] {
    std::vector<halfband_stage> v;
    v.push_back(design(0.05));
    v.push_back(design(0.5 - 2.0 * 0.55 / 4.0));
    v.push_back(design(0.5 - 2.0 * 0.55 / 8.0));
    return v;
  }();
  return designed;
}

uint32_t stage_count(uint32_t factor) noexcept {
  return factor >= 8 ? 3u : factor >= 4 ? 2u : factor >= 2 ? 1u : 0u;
}

// The round trip's delay at the high rate before padding.
uint32_t raw_delay(uint32_t factor) noexcept {
  uint32_t d = 0;
  for (uint32_t s = 0; s < stage_count(factor); ++s)
    d += 2u * stages()[s].half_length * (factor >> (s + 1));
  return d;
}

uint32_t pad_length(uint32_t factor) noexcept {
  return factor <= 1 ? 0u : (factor - raw_delay(factor) % factor) % factor;
}

} // namespace

std::span<const halfband_stage> halfband_stages() noexcept { return stages(); }

template <class Sample>
basic_channel_oversampler<Sample>::basic_channel_oversampler(uint32_t factor) : factor_(factor) {
  for (uint32_t s = 0; s < stage_count(factor); ++s)
    stages_.push_back({&stages()[s], {}, {}});
}

template <class Sample>
void basic_channel_oversampler<Sample>::prepare(uint32_t max_block) {
  max_block_ = max_block;
  uint32_t in_frames = max_block;
  for (auto& st : stages_) {
    const uint32_t k = st.stage->half_length;
    st.up.assign(k + in_frames, Sample{});
    st.down.assign(2 * k + 2 * in_frames, Sample{});
    in_frames *= 2;
  }
  pad_.assign(pad_length(factor_), Sample{});
  pad_pos_ = 0;
  scratch_.assign(size_t{max_block} * factor_, Sample{});
}

template <class Sample>
void basic_channel_oversampler<Sample>::upsample(const Sample* in, uint32_t frames, Sample* out) noexcept {
  if (stages_.empty()) {
    std::copy_n(in, frames, out);
    return;
  }
  // Stage s reads `src` (n samples) and writes 2n: into `out` for the last
  // stage, into scratch otherwise, alternating halves so a stage never
  // overwrites its own input.
  const Sample* src = in;
  uint32_t n = frames;
  for (size_t s = 0; s < stages_.size(); ++s) {
    auto& st = stages_[s];
    const uint32_t k = st.stage->half_length;
    const double* taps = st.stage->odd_taps.data();
    const uint32_t half_taps = (k + 1) / 2;
    Sample* x = st.up.data();
    std::copy_n(src, n, x + k);
    const bool last = s + 1 == stages_.size();
    Sample* dst = last ? out : (s % 2 == 0 ? scratch_.data() + scratch_.size() / 2 : scratch_.data());
    // y[2m] = 2 sum_i h[2i - K] x[m - i], i = 0..K; h is symmetric about i = K/2.
    // y[2m + 1] = x[m - (K - 1)/2].
    for (uint32_t m = 0; m < n; ++m) {
      const Sample* xm = x + k + m; // xm[-i] = x[m - i]
      double acc = 0.0;
      for (uint32_t t = 0; t < half_taps; ++t) {
        // offsets d = 2i - K = -(2t+1) and +(2t+1): i = (K - 1)/2 - t and (K + 1)/2 + t
        const uint32_t i_neg = (k - 1) / 2 - t, i_pos = (k + 1) / 2 + t;
        acc += taps[t] * (static_cast<double>(xm[-static_cast<int64_t>(i_neg)]) +
                          static_cast<double>(xm[-static_cast<int64_t>(i_pos)]));
      }
      dst[2 * m] = static_cast<Sample>(2.0 * acc);
      dst[2 * m + 1] = xm[-static_cast<int64_t>((k - 1) / 2)];
    }
    std::copy(x + n, x + n + k, x); // keep the last K inputs
    src = dst;
    n *= 2;
  }
}

template <class Sample>
void basic_channel_oversampler<Sample>::downsample(Sample* in, uint32_t frames, Sample* out) noexcept {
  const uint32_t total = frames * factor_;
  if (!pad_.empty()) {
    const auto p = static_cast<uint32_t>(pad_.size());
    for (uint32_t i = 0; i < total; ++i) {
      const Sample delayed = pad_[pad_pos_];
      pad_[pad_pos_] = in[i];
      in[i] = delayed;
      if (++pad_pos_ == p)
        pad_pos_ = 0;
    }
  }
  if (stages_.empty()) {
    std::copy_n(in, frames, out);
    return;
  }
  const Sample* src = in;
  uint32_t n = total; // input samples of the stage
  for (size_t r = stages_.size(); r-- > 0;) {
    auto& st = stages_[r];
    const uint32_t k = st.stage->half_length;
    const double* taps = st.stage->odd_taps.data();
    const uint32_t half_taps = (k + 1) / 2;
    Sample* v = st.down.data();
    std::copy_n(src, n, v + 2 * k);
    Sample* dst = r == 0 ? out : (r % 2 == 0 ? scratch_.data() + scratch_.size() / 2 : scratch_.data());
    // z[m] = sum_j h[j - K] v[2m - j], j = 0..2K: the even j (odd offsets)
    // and the centre 1/2 v[2m - K].
    for (uint32_t m = 0; m < n / 2; ++m) {
      const Sample* vm = v + 2 * k + 2 * m; // vm[-j] = v[2m - j]
      double acc = 0.0;
      for (uint32_t t = 0; t < half_taps; ++t) {
        const uint32_t j_neg = k - (2 * t + 1), j_pos = k + (2 * t + 1);
        acc += taps[t] * (static_cast<double>(vm[-static_cast<int64_t>(j_neg)]) +
                          static_cast<double>(vm[-static_cast<int64_t>(j_pos)]));
      }
      acc += 0.5 * static_cast<double>(vm[-static_cast<int64_t>(k)]);
      dst[m] = static_cast<Sample>(acc);
    }
    std::copy(v + n, v + n + 2 * k, v); // keep the last 2K inputs
    src = dst;
    n /= 2;
  }
}

template <class Sample>
uint32_t basic_channel_oversampler<Sample>::latency_frames(uint32_t factor) noexcept {
  return factor <= 1 ? 0u : (raw_delay(factor) + pad_length(factor)) / factor;
}

template <class Sample>
size_t basic_channel_oversampler<Sample>::state_bytes(uint32_t factor) noexcept {
  size_t samples = pad_length(factor);
  for (uint32_t s = 0; s < stage_count(factor); ++s)
    samples += 3 * size_t{stages()[s].half_length};
  return samples * sizeof(Sample) + sizeof(uint32_t);
}

template <class Sample>
void basic_channel_oversampler<Sample>::snapshot_into(std::byte* out) const noexcept {
  for (const auto& st : stages_) {
    const size_t k = st.stage->half_length;
    std::memcpy(out, st.up.data(), k * sizeof(Sample));
    out += k * sizeof(Sample);
    std::memcpy(out, st.down.data(), 2 * k * sizeof(Sample));
    out += 2 * k * sizeof(Sample);
  }
  if (!pad_.empty())
    std::memcpy(out, pad_.data(), pad_.size() * sizeof(Sample));
  out += pad_.size() * sizeof(Sample);
  std::memcpy(out, &pad_pos_, sizeof pad_pos_);
}

template <class Sample>
void basic_channel_oversampler<Sample>::restore_from(const std::byte* in) noexcept {
  for (auto& st : stages_) {
    const size_t k = st.stage->half_length;
    std::memcpy(st.up.data(), in, k * sizeof(Sample));
    in += k * sizeof(Sample);
    std::memcpy(st.down.data(), in, 2 * k * sizeof(Sample));
    in += 2 * k * sizeof(Sample);
  }
  if (!pad_.empty())
    std::memcpy(pad_.data(), in, pad_.size() * sizeof(Sample));
  in += pad_.size() * sizeof(Sample);
  uint32_t pos = 0;
  std::memcpy(&pos, in, sizeof pos);
  pad_pos_ = pad_.empty() ? 0 : pos % static_cast<uint32_t>(pad_.size());
}

template class basic_channel_oversampler<float>;
template class basic_channel_oversampler<double>;

// -- the wrapper --------------------------------------------------------------

render_node scaled_for_oversampling(const render_node& node, uint32_t factor) {
  render_node inner = node;
  const auto specs = parameters_of(node.kind);
  const double n = factor;
  for (auto& p : inner.params) {
    if (p.name == "oversample")
      p.value = 1;
    for (const auto& spec : specs)
      if (spec.name == p.name && spec.unit == param_unit::frames)
        p.value *= n;
  }
  const auto scale = [factor](int64_t frame) { return frame * static_cast<int64_t>(factor); };
  for (auto& lane : inner.automation) {
    for (auto& point : lane.points)
      point.frame = scale(point.frame);
    for (auto& m : lane.modulators) {
      for (auto& point : m.clock)
        point.frame = scale(point.frame);
      m.attack_frames *= n;
      m.release_frames *= n;
    }
  }
  for (auto& e : inner.events)
    e.frame = scale(e.frame);
  return inner;
}

uint32_t oversample_factor(const render_graph& graph, const render_node& node) noexcept {
  for (const auto& spec : parameters_of(node.kind))
    if (spec.name == "oversample") {
      const double own = param_or(node, "oversample", 0.0);
      const double factor = own >= 1.0 ? own : graph.oversample;
      return valid_oversample(factor) ? static_cast<uint32_t>(factor) : 1u;
    }
  return 1;
}

namespace {

template <class Sample>
class oversampled_node final : public basic_node_processor<Sample> {
public:
  using view = basic_audio_view<Sample>;

  oversampled_node(const render_graph& graph, const render_node& node, uint32_t factor,
                   std::vector<uint16_t> input_channels)
    : factor_(factor), input_channels_(std::move(input_channels)), channels_(node.channels) {
    render_graph fast;
    fast.sample_rate = graph.sample_rate * factor;
    fast.mode = graph.mode;
    fast.first_frame = graph.first_frame * factor;
    fast.frame_count = graph.frame_count * factor;
    fast.media = graph.media;
    fast.oversample = 1;
    fast.precision = graph.precision;
    inner_ = make_processor<Sample>(fast, scaled_for_oversampling(node, factor));
    for (auto c : input_channels_)
      for (uint16_t i = 0; i < c; ++i)
        up_.emplace_back(factor);
    for (uint16_t i = 0; i < channels_; ++i)
      down_.emplace_back(factor);
  }

  bool has_inner() const noexcept { return inner_ != nullptr; }

  void prepare(uint32_t max_block) override {
    const size_t high = size_t{max_block} * factor_;
    for (auto& o : up_)
      o.prepare(max_block);
    for (auto& o : down_)
      o.prepare(max_block);
    inputs_high_.assign(up_.size() * high, Sample{});
    output_high_.assign(size_t{channels_} * high, Sample{});
    views_.assign(input_channels_.size(), view{});
    inner_->prepare(max_block * factor_);
    max_block_ = max_block;
  }

  void process_rt(const process_context& ctx, std::span<const view> inputs,
                  const view& out) noexcept override {
    const uint32_t n = ctx.frames, high = n * factor_;
    const size_t stride = size_t{max_block_} * factor_;
    size_t k = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      view v;
      v.channels = inputs[i].channels;
      v.frames = high;
      for (uint16_t c = 0; c < inputs[i].channels; ++c, ++k) {
        v.channel[c] = inputs_high_.data() + k * stride;
        up_[k].upsample(inputs[i][c], n, v.channel[c]);
      }
      views_[i] = v;
    }
    view o;
    o.channels = channels_;
    o.frames = high;
    for (uint16_t c = 0; c < channels_; ++c)
      o.channel[c] = output_high_.data() + c * stride;
    inner_->process_rt({ctx.timeline_frame * factor_, high}, {views_.data(), inputs.size()}, o);
    for (uint16_t c = 0; c < out.channels; ++c)
      down_[c].downsample(o.channel[c], n, out[c]);
  }

  std::vector<std::byte> snapshot() const override {
    const size_t each = basic_channel_oversampler<Sample>::state_bytes(factor_);
    auto inner = inner_->snapshot();
    std::vector<std::byte> state((up_.size() + down_.size()) * each + inner.size());
    std::byte* at = state.data();
    for (const auto& o : up_)
      o.snapshot_into(at), at += each;
    for (const auto& o : down_)
      o.snapshot_into(at), at += each;
    if (!inner.empty())
      std::memcpy(at, inner.data(), inner.size());
    return state;
  }

  bool restore(std::span<const std::byte> state) override {
    const size_t each = basic_channel_oversampler<Sample>::state_bytes(factor_);
    const size_t own = (up_.size() + down_.size()) * each;
    if (state.size() < own || !inner_->restore(state.subspan(own)))
      return false;
    const std::byte* at = state.data();
    for (auto& o : up_)
      o.restore_from(at), at += each;
    for (auto& o : down_)
      o.restore_from(at), at += each;
    return true;
  }

private:
  uint32_t factor_;
  std::vector<uint16_t> input_channels_;
  uint16_t channels_;
  uint32_t max_block_ = 0;
  std::unique_ptr<basic_node_processor<Sample>> inner_;
  std::vector<basic_channel_oversampler<Sample>> up_, down_;
  std::vector<Sample> inputs_high_, output_high_;
  std::vector<view> views_;
};

} // namespace

template <class Sample>
std::unique_ptr<basic_node_processor<Sample>> make_oversampled(
  const render_graph& graph, const render_node& node, uint32_t factor,
  std::vector<uint16_t> input_channels) {
  auto wrapped =
    std::make_unique<oversampled_node<Sample>>(graph, node, factor, std::move(input_channels));
  if (!wrapped->has_inner())
    return nullptr;
  return wrapped;
}

template std::unique_ptr<node_processor> make_oversampled<float>(const render_graph&,
                                                                 const render_node&, uint32_t,
                                                                 std::vector<uint16_t>);
template std::unique_ptr<node_processor_f64> make_oversampled<double>(const render_graph&,
                                                                      const render_node&,
                                                                      uint32_t,
                                                                      std::vector<uint16_t>);

} // namespace loophole::signal
