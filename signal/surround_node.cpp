// The surround_pan and fold_down nodes (gains: signal/surround_node.hpp).
//
// surround_pan: a mono input is placed at the azimuth; a stereo input's
// sides at azimuth -+ 30 x spread, each panned alone and summed. The LFE
// channel (5.1 and wider) gets `lfe` times the mean of the inputs, on top of
// the panned gains. All four parameters may be automated: the gains are then
// recomputed per frame. Sums run in double and are rounded to the sample type once.

#include "signal/surround_node.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "signal/dsp_nodes.hpp"
#include "signal/param_stream.hpp"
#include "signal/state_io.hpp"

namespace loophole::signal {

namespace {

constexpr double deg = std::numbers::pi / 180.0;

struct speaker {
  uint16_t channel;
  double azimuth; // degrees
};

// Ear-layer speakers in increasing azimuth.
constexpr std::array<speaker, 2> stereo_ring{{{0, -30}, {1, 30}}};
constexpr std::array<speaker, 5> ring_51{{{4, -110}, {0, -30}, {2, 0}, {1, 30}, {5, 110}}};
// 7.1 in WAV's channel-mask order: L R C LFE, the back (rear) pair, then the side pair.
constexpr std::array<speaker, 7> ring_71{
  {{4, -150}, {6, -90}, {0, -30}, {2, 0}, {1, 30}, {7, 90}, {5, 150}}};
constexpr std::array<speaker, 4> height_ring{{{10, -135}, {8, -45}, {9, 45}, {11, 135}}};

// Pairwise 2-D VBAP on a closed ring, added into `out` times `weight`.
void vbap(std::span<const speaker> ring, double azimuth, double weight, speaker_gains& out) noexcept {
  const double first = ring.front().azimuth;
  double a = azimuth;
  while (a < first)
    a += 360.0;
  while (a >= first + 360.0)
    a -= 360.0;
  for (size_t k = 0; k < ring.size(); ++k) {
    const auto& s1 = ring[k];
    const auto& s2 = ring[(k + 1) % ring.size()];
    const double a1 = s1.azimuth;
    const double a2 = k + 1 < ring.size() ? s2.azimuth : s2.azimuth + 360.0;
    if (a < a1 || a > a2)
      continue;
    // Solve g1 u(a1) + g2 u(a2) = u(a), u(x) = (sin x, cos x); normalise.
    const double det = std::sin((a1 - a2) * deg);
    double g1 = std::sin((a - a2) * deg) / det;
    double g2 = std::sin((a1 - a) * deg) / det;
    const double norm = std::sqrt(g1 * g1 + g2 * g2);
    g1 /= norm;
    g2 /= norm;
    out[s1.channel] += weight * g1;
    out[s2.channel] += weight * g2;
    return;
  }
}

} // namespace

speaker_gains surround_gains(uint16_t channels, double azimuth_deg, double elevation_deg) noexcept {
  speaker_gains g{};
  if (channels == 2) {
    // Mirror the rear half to the front, then hold outside the L-R arc.
    double a = azimuth_deg;
    if (a > 90.0)
      a = 180.0 - a;
    else if (a < -90.0)
      a = -180.0 - a;
    a = std::clamp(a, -30.0, 30.0);
    const double theta = (a + 30.0) / 60.0 * std::numbers::pi / 2.0;
    g[0] = std::cos(theta);
    g[1] = std::sin(theta);
    return g;
  }
  double ear = 1.0, height = 0.0;
  if (channels == 12) {
    const double e = std::clamp(elevation_deg, 0.0, 90.0) / 90.0 * std::numbers::pi / 2.0;
    ear = std::cos(e);
    height = std::sin(e);
  }
  if (channels == 6)
    vbap(ring_51, azimuth_deg, ear, g);
  else
    vbap(ring_71, azimuth_deg, ear, g);
  if (height > 0.0)
    vbap(height_ring, azimuth_deg, height, g);
  return g;
}

gain_matrix fold_down_matrix(uint16_t from, uint16_t to, const fold_down_gains& k) noexcept {
  gain_matrix m{};
  // Channel indices in WAV's channel-mask order (docs/node-graph.md): 5.1 is
  // L R C LFE Ls Rs (the side pair); 7.1 and 7.1.4 put the back pair (Lrs Rrs)
  // before the side pair, and the heights last.
  constexpr uint16_t L = 0, R = 1, C = 2, LFE = 3, Ltf = 8, Rtf = 9, Ltr = 10, Rtr = 11;
  constexpr uint16_t Lrs = 4, Rrs = 5, Ls = 6, Rs = 7;    // in 7.1 and 7.1.4
  constexpr uint16_t Ls51 = 4, Rs51 = 5;                  // in 5.1
  auto has = [from](uint16_t ch) { return ch < from; };
  if (from == 2) {
    // Only stereo -> mono.
    m[0][L] = 0.5;
    m[0][R] = 0.5;
  } else if (to == 8) {
    // 7.1.4 -> 7.1: the ear layer as it is, each height into the speaker below it.
    for (uint16_t c = 0; c < 8; ++c)
      m[c][c] = 1.0;
    m[L][Ltf] = m[R][Rtf] = k.surround;
    m[Lrs][Ltr] = m[Rrs][Rtr] = k.surround;
  } else if (to == 6) {
    // 7.1 (.4) -> 5.1: the side and back pairs into the surrounds of their side.
    for (uint16_t c = 0; c < 4; ++c)
      m[c][c] = 1.0;
    m[Ls51][Ls] = m[Rs51][Rs] = 1.0;
    m[Ls51][Lrs] = m[Rs51][Rrs] = 1.0;
    if (has(Ltf)) {
      m[L][Ltf] = m[R][Rtf] = k.surround;
      m[Ls51][Ltr] = m[Rs51][Rtr] = k.surround;
    }
  } else {
    // ITU-R BS.775 into stereo.
    std::array<std::array<double, max_channels>, 2> lr{};
    lr[0][L] = lr[1][R] = 1.0;
    lr[0][C] = lr[1][C] = k.center;
    lr[0][LFE] = lr[1][LFE] = k.lfe;
    for (auto [left, right] : {std::pair{Lrs, Rrs}, std::pair{Ls, Rs}, std::pair{Ltf, Rtf},
                               std::pair{Ltr, Rtr}})
      if (has(left)) {
        lr[0][left] = k.surround;
        lr[1][right] = k.surround;
      }
    if (to == 2) {
      m[0] = lr[0];
      m[1] = lr[1];
    } else {
      for (uint16_t c = 0; c < from; ++c)
        m[0][c] = (lr[0][c] + lr[1][c]) / 2.0;
    }
  }
  if (k.normalise) {
    double worst = 0.0;
    for (uint16_t o = 0; o < to; ++o) {
      double sum = 0.0;
      for (uint16_t i = 0; i < from; ++i)
        sum += std::abs(m[o][i]);
      worst = std::max(worst, sum);
    }
    if (worst > 1.0)
      for (uint16_t o = 0; o < to; ++o)
        for (uint16_t i = 0; i < from; ++i)
          m[o][i] /= worst;
  }
  return m;
}

namespace {

class surround_pan_node final : public either_precision<surround_pan_node> {
public:
  surround_pan_node(const render_graph& graph, const render_node& node)
    : channels_(node.channels),
      inputs_(node.inputs.empty() || node.inputs[0] >= graph.nodes.size()
                ? uint16_t{1}
                : graph.nodes[node.inputs[0]].channels),
      azimuth_(node, "azimuth_deg", param_or(node, "azimuth_deg", 0.0)),
      elevation_(node, "elevation_deg", param_or(node, "elevation_deg", 0.0)),
      spread_(node, "spread", param_or(node, "spread", 0.0)),
      lfe_(node, "lfe", param_or(node, "lfe", 0.0)) {
    constant_ = gains(azimuth_.constant(), elevation_.constant(), spread_.constant(),
                      lfe_.constant());
  }

  void prepare(uint32_t max_block) override {
    for (auto* s : {&azimuth_, &elevation_, &spread_, &lfe_})
      s->prepare(max_block);
  }

  template <class Sample>
  void process_block(const process_context& ctx, std::span<const basic_audio_view<Sample>> inputs,
                     const basic_audio_view<Sample>& out) noexcept {
    const auto& in = inputs[0];
    const bool varies =
      azimuth_.varies() || elevation_.varies() || spread_.varies() || lfe_.varies();
    if (!varies) {
      apply(constant_, in, out, 0, ctx.frames);
      return;
    }
    const double* az = values(azimuth_, ctx, in);
    const double* el = values(elevation_, ctx, in);
    const double* sp = values(spread_, ctx, in);
    const double* lf = values(lfe_, ctx, in);
    for (uint32_t i = 0; i < ctx.frames; ++i) {
      const auto g = gains(az ? az[i] : azimuth_.constant(), el ? el[i] : elevation_.constant(),
                           sp ? sp[i] : spread_.constant(), lf ? lf[i] : lfe_.constant());
      apply(g, in, out, i, i + 1);
    }
  }

  std::vector<std::byte> snapshot() const override {
    state_writer w(0);
    w.put_streams({&azimuth_, &elevation_, &spread_, &lfe_});
    return w.take();
  }

  bool restore(std::span<const std::byte> state) override {
    state_reader r(state);
    return r.get_streams({&azimuth_, &elevation_, &spread_, &lfe_}) && r.complete();
  }

private:
  // gains[output][input]
  using matrix = std::array<std::array<double, 2>, max_channels>;

  template <class Sample>
  static const double* values(param_stream& s, const process_context& ctx,
                              const basic_audio_view<Sample>& in) noexcept {
    return s.varies() ? s.fill(ctx.timeline_frame, ctx.frames, in) : nullptr;
  }

  matrix gains(double azimuth, double elevation, double spread, double lfe) const noexcept {
    matrix m{};
    if (inputs_ == 1) {
      const auto g = surround_gains(channels_, azimuth, elevation);
      for (uint16_t c = 0; c < channels_; ++c)
        m[c][0] = g[c];
    } else {
      const double half = 30.0 * std::clamp(spread, 0.0, 1.0);
      const auto l = surround_gains(channels_, azimuth - half, elevation);
      const auto r = surround_gains(channels_, azimuth + half, elevation);
      for (uint16_t c = 0; c < channels_; ++c) {
        m[c][0] = l[c];
        m[c][1] = r[c];
      }
    }
    if (channels_ >= 6)
      for (uint16_t i = 0; i < inputs_; ++i)
        m[3][i] += std::clamp(lfe, 0.0, 1.0) / inputs_;
    return m;
  }

  template <class Sample>
  void apply(const matrix& m, const basic_audio_view<Sample>& in,
             const basic_audio_view<Sample>& out, uint32_t from, uint32_t to) const noexcept {
    for (uint16_t c = 0; c < channels_; ++c)
      for (uint32_t i = from; i < to; ++i) {
        double acc = m[c][0] * static_cast<double>(in[0][i]);
        if (inputs_ == 2)
          acc += m[c][1] * static_cast<double>(in[1][i]);
        out[c][i] = static_cast<Sample>(acc);
      }
  }

  uint16_t channels_, inputs_;
  param_stream azimuth_, elevation_, spread_, lfe_;
  matrix constant_{};
};

double db_or_off(const render_node& node, std::string_view name, double fallback_db) noexcept {
  const double db = param_or(node, name, fallback_db);
  return db <= -144.0 ? 0.0 : std::pow(10.0, db / 20.0);
}

class fold_down_node final : public either_precision<fold_down_node> {
public:
  fold_down_node(const render_graph& graph, const render_node& node)
    : to_(node.channels),
      from_(node.inputs.empty() || node.inputs[0] >= graph.nodes.size()
              ? uint16_t{2}
              : graph.nodes[node.inputs[0]].channels) {
    fold_down_gains k;
    k.center = db_or_off(node, "center_db", -3.0);
    k.surround = db_or_off(node, "surround_db", -3.0);
    k.lfe = db_or_off(node, "lfe_db", -144.0);
    k.normalise = param_or(node, "normalise", 0.0) != 0.0;
    matrix_ = fold_down_matrix(from_, to_, k);
  }

  void prepare(uint32_t) override {}

  template <class Sample>
  void process_block(const process_context& ctx, std::span<const basic_audio_view<Sample>> inputs,
                     const basic_audio_view<Sample>& out) noexcept {
    const auto& in = inputs[0];
    for (uint16_t o = 0; o < to_; ++o) {
      const auto& row = matrix_[o];
      for (uint32_t i = 0; i < ctx.frames; ++i) {
        double acc = 0.0;
        for (uint16_t c = 0; c < from_; ++c)
          acc += row[c] * static_cast<double>(in[c][i]);
        out[o][i] = static_cast<Sample>(acc);
      }
    }
  }

private:
  uint16_t to_, from_;
  gain_matrix matrix_{};
};

} // namespace

template <class Sample>
std::unique_ptr<basic_node_processor<Sample>> make_surround_pan(const render_graph& graph,
                                                                const render_node& node) {
  return std::make_unique<surround_pan_node>(graph, node);
}

template <class Sample>
std::unique_ptr<basic_node_processor<Sample>> make_fold_down(const render_graph& graph,
                                                             const render_node& node) {
  return std::make_unique<fold_down_node>(graph, node);
}

template std::unique_ptr<node_processor> make_surround_pan<float>(const render_graph&,
                                                                  const render_node&);
template std::unique_ptr<node_processor_f64> make_surround_pan<double>(const render_graph&,
                                                                       const render_node&);
template std::unique_ptr<node_processor> make_fold_down<float>(const render_graph&,
                                                               const render_node&);
template std::unique_ptr<node_processor_f64> make_fold_down<double>(const render_graph&,
                                                                    const render_node&);

} // namespace loophole::signal
