// The saturation node: per frame and channel, in double,
//   y = out * (mix * shape(drive * x) + (1 - mix) * x)
// drive = 10^(drive_db / 20), out = 10^(output_db / 20); the output gain
// applies to the blend, so mix and level are independent. Oversampling, when
// asked, wraps this processor (signal/oversampler.hpp).

#include <algorithm>
#include <cmath>

#include "signal/dsp_nodes.hpp"
#include "signal/param_stream.hpp"
#include "signal/saturation_node.hpp"
#include "signal/state_io.hpp"

namespace loophole::signal {

namespace {

double db_to_gain(double db) noexcept { return std::pow(10.0, db / 20.0); }

class saturation_node final : public either_precision<saturation_node> {
public:
  explicit saturation_node(const render_node& node)
    : curve_(static_cast<saturation_curve>(param_or(node, "curve", 0))),
      drive_db_(node, "drive_db", param_or(node, "drive_db", 0.0)),
      mix_(node, "mix", param_or(node, "mix", 1.0)),
      output_db_(node, "output_db", param_or(node, "output_db", 0.0)) {}

  void prepare(uint32_t max_block) override {
    drive_db_.prepare(max_block);
    mix_.prepare(max_block);
    output_db_.prepare(max_block);
  }

  template <class Sample>
  void process_block(const process_context& ctx, std::span<const basic_audio_view<Sample>> inputs,
                     const basic_audio_view<Sample>& out) noexcept {
    const auto& in = inputs[0];
    if (!drive_db_.varies() && !mix_.varies() && !output_db_.varies()) {
      const double drive = db_to_gain(drive_db_.constant()), mix = mix_.constant();
      const double level = db_to_gain(output_db_.constant());
      for (uint16_t c = 0; c < out.channels; ++c)
        for (uint32_t i = 0; i < ctx.frames; ++i) {
          const double x = in[c][i];
          out[c][i] = static_cast<Sample>(level * (mix * shape(curve_, drive * x) + (1.0 - mix) * x));
        }
      return;
    }
    const double* drive_db = values(drive_db_, ctx, in);
    const double* mix = values(mix_, ctx, in);
    const double* output_db = values(output_db_, ctx, in);
    for (uint32_t i = 0; i < ctx.frames; ++i) {
      const double drive = db_to_gain(drive_db ? drive_db[i] : drive_db_.constant());
      const double m = std::clamp(mix ? mix[i] : mix_.constant(), 0.0, 1.0);
      const double level = db_to_gain(output_db ? output_db[i] : output_db_.constant());
      for (uint16_t c = 0; c < out.channels; ++c) {
        const double x = in[c][i];
        out[c][i] = static_cast<Sample>(level * (m * shape(curve_, drive * x) + (1.0 - m) * x));
      }
    }
  }

  template <class Sample>
  static const double* values(param_stream& s, const process_context& ctx,
                              const basic_audio_view<Sample>& in) noexcept {
    return s.varies() ? s.fill(ctx.timeline_frame, ctx.frames, in) : nullptr;
  }

  std::vector<std::byte> snapshot() const override {
    state_writer w(0);
    w.put_streams({&drive_db_, &mix_, &output_db_});
    return w.take();
  }

  bool restore(std::span<const std::byte> state) override {
    state_reader r(state);
    return r.get_streams({&drive_db_, &mix_, &output_db_}) && r.complete();
  }

private:
  saturation_curve curve_;
  param_stream drive_db_, mix_, output_db_;
};

} // namespace

template <class Sample>
std::unique_ptr<basic_node_processor<Sample>> make_saturation(const render_graph&,
                                                              const render_node& node) {
  return std::make_unique<saturation_node>(node);
}

template std::unique_ptr<node_processor> make_saturation<float>(const render_graph&,
                                                                const render_node&);
template std::unique_ptr<node_processor_f64> make_saturation<double>(const render_graph&,
                                                                     const render_node&);

uint64_t saturation_state_bytes(const render_node& node) noexcept {
  return modulation_state_bytes(node);
}

} // namespace loophole::signal
