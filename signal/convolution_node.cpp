// The convolution node: uniformly partitioned overlap-save FFT convolution
// with a frequency-domain delay line.
//
// With P = partition_frames and the impulse response h cut into M partitions
// h_k of P frames, each is transformed once (FFT of 2P points, h_k then P
// zeros) into H_k. The input is gathered P frames at a time; when a partition
// is complete, the FFT of [previous P frames, these P frames] enters the
// delay line as X_0 (X_k is the spectrum k partitions ago), and
//   Y = sum_k X_k H_k,  y = the last P samples of IFFT(Y) / 2P
// is the wet signal of that partition, played during the next one. Latency
// is therefore exactly P frames (reported by latency_frames); the dry signal
// is delayed by the same P frames so wet and dry stay aligned. Everything is
// computed in double and rounded to the sample type once per sample; partitions are
// counted from the node's first frame whatever the block size, so any block
// split gives the same bits.
//
// The response's channels: a mono response serves every channel, otherwise
// channel c convolves with response channel c mod (its channels).
//
// FFTW: plans are made with FFTW_ESTIMATE (deterministic) under one mutex in
// prepare (the planner is not thread-safe) and destroyed under it; process_rt
// only executes them on buffers allocated in prepare (fftw_malloc, so their
// alignment matches the plans').

#include <fftw3.h>

#include <algorithm>
#include <complex>
#include <cstring>
#include <mutex>
#include <utility>

#include "signal/dsp_nodes.hpp"
#include "signal/param_stream.hpp"
#include "signal/state_io.hpp"

namespace loophole::signal {

namespace {

std::mutex& planner_mutex() {
  static std::mutex m;
  return m;
}

template <class T>
struct fftw_buffer {
  T* data = nullptr;
  size_t size = 0;
  fftw_buffer() = default;
  explicit fftw_buffer(size_t n)
    : data(static_cast<T*>(fftw_malloc(std::max<size_t>(n, 1) * sizeof(T)))), size(n) {
    if (!data)
      throw std::bad_alloc();
    std::memset(static_cast<void*>(data), 0, std::max<size_t>(n, 1) * sizeof(T));
  }
  fftw_buffer(fftw_buffer&& o) noexcept : data(std::exchange(o.data, nullptr)), size(o.size) {}
  fftw_buffer& operator=(fftw_buffer&& o) noexcept {
    std::swap(data, o.data);
    std::swap(size, o.size);
    return *this;
  }
  fftw_buffer(const fftw_buffer&) = delete;
  fftw_buffer& operator=(const fftw_buffer&) = delete;
  ~fftw_buffer() { fftw_free(data); }
};

using complex = std::complex<double>;
static_assert(sizeof(complex) == sizeof(fftw_complex));

uint32_t partition_of(const render_node& node) noexcept {
  return static_cast<uint32_t>(param_or(node, "partition_frames", 1024));
}

uint16_t response_channels(const render_graph& graph, const render_node& node) noexcept {
  if (!node.media || node.media->media_index >= graph.media.size())
    return 1;
  return std::max<uint16_t>(graph.media[node.media->media_index].channels, 1);
}

// Partitions of the response: from its length alone, so state_bytes needs
// the node only.
size_t partitions_of(const render_node& node) noexcept {
  const auto p = partition_of(node);
  const int64_t length = node.media ? std::max<int64_t>(node.media->length, 1) : 1;
  return static_cast<size_t>((length + p - 1) / p);
}

template <class Sample>
class convolution_node final : public basic_node_processor<Sample> {
public:
  using view = basic_audio_view<Sample>;

  convolution_node(const render_graph& graph, const render_node& node)
    : p_(partition_of(node)),
      m_(partitions_of(node)),
      channels_(node.channels),
      response_channels_(response_channels(graph, node)),
      length_(node.media ? static_cast<size_t>(node.media->length) : 0),
      response_(node.embedded_audio),
      wet_(node, "wet", param_or(node, "wet", 1.0)),
      dry_(node, "dry", param_or(node, "dry", 0.0)) {}

  ~convolution_node() override {
    std::lock_guard lock{planner_mutex()};
    if (forward_)
      fftw_destroy_plan(forward_);
    if (inverse_)
      fftw_destroy_plan(inverse_);
  }

  void prepare(uint32_t max_block) override {
    wet_.prepare(max_block);
    dry_.prepare(max_block);
    const size_t n = 2 * size_t{p_}, bins = size_t{p_} + 1;
    time_ = fftw_buffer<double>(n);
    spectrum_ = fftw_buffer<fftw_complex>(bins);
    {
      std::lock_guard lock{planner_mutex()};
      if (!forward_)
        forward_ = fftw_plan_dft_r2c_1d(static_cast<int>(n), time_.data, spectrum_.data,
                                        FFTW_ESTIMATE);
      if (!inverse_)
        inverse_ = fftw_plan_dft_c2r_1d(static_cast<int>(n), spectrum_.data, time_.data,
                                        FFTW_ESTIMATE);
    }
    // The response's spectra, per response channel.
    responses_.clear();
    for (uint16_t rc = 0; rc < response_channels_; ++rc) {
      fftw_buffer<fftw_complex> h(m_ * bins);
      for (size_t k = 0; k < m_; ++k) {
        std::fill_n(time_.data, n, 0.0);
        for (size_t j = 0; j < p_; ++j) {
          const size_t at = k * p_ + j;
          if (at < length_ && response_.size() >= (rc + 1) * length_)
            time_.data[j] = response_[rc * length_ + at];
        }
        fftw_execute_dft_r2c(forward_, time_.data, h.data + k * bins);
      }
      responses_.push_back(std::move(h));
    }
    lines_.clear();
    for (uint16_t c = 0; c < channels_; ++c) {
      channel_state ch;
      ch.line = fftw_buffer<fftw_complex>(m_ * bins);
      ch.previous.assign(p_, Sample{});
      ch.current.assign(p_, Sample{});
      ch.wet.assign(p_, 0.0);
      lines_.push_back(std::move(ch));
    }
    sum_ = fftw_buffer<fftw_complex>(bins);
    position_ = 0;
    head_ = 0;
  }

  void process_rt(const process_context& ctx, std::span<const view> inputs,
                  const view& out) noexcept override {
    const auto& in = inputs[0];
    const double* wet = wet_.varies() ? wet_.fill(ctx.timeline_frame, ctx.frames, in) : nullptr;
    const double* dry = dry_.varies() ? dry_.fill(ctx.timeline_frame, ctx.frames, in) : nullptr;
    for (uint32_t done = 0; done < ctx.frames;) {
      const uint32_t n = std::min(ctx.frames - done, p_ - position_);
      for (uint16_t c = 0; c < channels_; ++c) {
        auto& ch = lines_[c];
        const Sample* x = in[c] + done;
        Sample* y = out[c] + done;
        for (uint32_t i = 0; i < n; ++i) {
          const uint32_t j = position_ + i;
          const double w = wet ? wet[done + i] : wet_.constant();
          const double d = dry ? dry[done + i] : dry_.constant();
          y[i] = static_cast<Sample>(w * ch.wet[j] + d * static_cast<double>(ch.previous[j]));
          ch.current[j] = x[i];
        }
      }
      position_ += n;
      done += n;
      if (position_ == p_) {
        head_ = head_ == 0 ? m_ - 1 : head_ - 1;
        for (uint16_t c = 0; c < channels_; ++c)
          convolve_partition(c);
        position_ = 0;
      }
    }
  }

  std::vector<std::byte> snapshot() const override {
    const size_t bins = size_t{p_} + 1;
    state_writer w(0);
    w.put(position_);
    w.put(static_cast<uint64_t>(head_));
    for (const auto& ch : lines_) {
      w.put_bytes(ch.line.data, m_ * bins * sizeof(fftw_complex));
      w.put_all(ch.previous);
      w.put_all(ch.current);
      w.put_all(ch.wet);
    }
    w.put_streams({&wet_, &dry_});
    return w.take();
  }

  bool restore(std::span<const std::byte> state) override {
    const size_t bins = size_t{p_} + 1;
    state_reader r(state);
    uint32_t position = 0;
    uint64_t head = 0;
    if (!r.get(position) || !r.get(head) || position >= p_ || head >= m_)
      return false;
    for (auto& ch : lines_)
      if (!r.get_bytes(ch.line.data, m_ * bins * sizeof(fftw_complex)) || !r.get_all(ch.previous) ||
          !r.get_all(ch.current) || !r.get_all(ch.wet))
        return false;
    if (!r.get_streams({&wet_, &dry_}) || !r.complete())
      return false;
    position_ = position;
    head_ = head;
    return true;
  }

private:
  struct channel_state {
    fftw_buffer<fftw_complex> line;   ///< M spectra; line[head] is the newest
    std::vector<Sample> previous, current; ///< the last complete partition, the one filling
    std::vector<double> wet;          ///< the wet output of the partition playing
  };

  void convolve_partition(uint16_t c) noexcept {
    auto& ch = lines_[c];
    const size_t bins = size_t{p_} + 1, n = 2 * size_t{p_};
    for (uint32_t j = 0; j < p_; ++j) {
      time_.data[j] = ch.previous[j];
      time_.data[p_ + j] = ch.current[j];
    }
    fftw_execute_dft_r2c(forward_, time_.data, ch.line.data + head_ * bins);
    const auto* h = reinterpret_cast<const complex*>(
      responses_[response_channels_ == 1 ? 0 : c % response_channels_].data);
    const auto* line = reinterpret_cast<const complex*>(ch.line.data);
    auto* sum = reinterpret_cast<complex*>(sum_.data);
    std::fill_n(sum, bins, complex{});
    for (size_t k = 0; k < m_; ++k) {
      const complex* x = line + ((head_ + k) % m_) * bins;
      const complex* hk = h + k * bins;
      for (size_t b = 0; b < bins; ++b)
        sum[b] += x[b] * hk[b];
    }
    fftw_execute_dft_c2r(inverse_, sum_.data, time_.data);
    const double scale = 1.0 / static_cast<double>(n);
    for (uint32_t j = 0; j < p_; ++j)
      ch.wet[j] = time_.data[p_ + j] * scale;
    std::swap(ch.previous, ch.current);
  }

  uint32_t p_;
  size_t m_;
  uint16_t channels_, response_channels_;
  size_t length_;
  std::vector<float> response_;
  param_stream wet_, dry_;
  fftw_plan forward_ = nullptr, inverse_ = nullptr;
  fftw_buffer<double> time_;
  fftw_buffer<fftw_complex> spectrum_, sum_;
  std::vector<fftw_buffer<fftw_complex>> responses_;
  std::vector<channel_state> lines_;
  uint32_t position_ = 0;
  size_t head_ = 0;
};

} // namespace

template <class Sample>
std::unique_ptr<basic_node_processor<Sample>> make_convolution(const render_graph& graph,
                                                               const render_node& node) {
  return std::make_unique<convolution_node<Sample>>(graph, node);
}

template std::unique_ptr<node_processor> make_convolution<float>(const render_graph&,
                                                                 const render_node&);
template std::unique_ptr<node_processor_f64> make_convolution<double>(const render_graph&,
                                                                      const render_node&);

uint64_t convolution_state_bytes(const render_graph& graph, const render_node& node) noexcept {
  const uint64_t p = partition_of(node), bins = p + 1;
  const uint64_t per_channel = partitions_of(node) * bins * sizeof(fftw_complex) +
                               2 * p * sample_bytes(graph.precision) + p * sizeof(double);
  return sizeof(uint32_t) + sizeof(uint64_t) + node.channels * per_channel +
         modulation_state_bytes(node);
}

uint32_t convolution_latency(const render_node& node) noexcept { return partition_of(node); }

} // namespace loophole::signal
