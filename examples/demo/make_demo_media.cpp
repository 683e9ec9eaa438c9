// make_demo_media OUTDIR: synthesises the media of the demo session (examples/demo/session.json):
// drums, bass, chords and lead, 8 bars of 4/4 at 112 bpm over Am - F - C - G played twice.
//
// Everything comes from fixed note data, an integer PRNG and double maths, so two runs write
// byte-identical files.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <numbers>
#include <sndfile.h>
#include <vector>

namespace {

constexpr double bpm = 112.0;
constexpr double session_beats = 8 * 4;
constexpr double two_pi = 2.0 * std::numbers::pi;

// One entry per bar, repeated: the bass roots (A1 F1 C2 G1) and close pad voicings, chosen so
// each voice moves by at most a tone.
constexpr std::array<int, 4> roots{33, 29, 36, 31};
constexpr std::array<std::array<int, 3>, 4> voicings{
    {{57, 60, 64}, {57, 60, 65}, {55, 60, 64}, {55, 59, 62}}};

struct note {
  double beat, len, pitch; // onset and length in beats; MIDI note (or interval above the root)
};

double hz(double midi) {
  return 440.0 * std::pow(2.0, (midi - 69.0) / 12.0);
}
double seconds(double beats) {
  return beats * 60.0 / bpm;
}

// Linear attack, hold until `hold` seconds, then a linear release.
double envelope(double s, double attack, double hold, double release) {
  return std::clamp(std::min(s / attack, 1.0 - (s - hold) / release), 0.0, 1.0);
}

// xorshift64: integer-only, so the noise does not depend on the library or the run.
class noise {
public:
  explicit noise(std::uint64_t seed) : state_(seed) {}
  double next() { // uniform in [-1, 1)
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return static_cast<double>(state_ >> 11) * 0x1.0p-52 - 1.0;
  }

private:
  std::uint64_t state_;
};

struct track {
  double rate;
  std::vector<std::vector<double>> ch;

  track(double r, std::size_t channels)
      : rate(r), ch(channels, std::vector<double>(static_cast<std::size_t>(
                                  std::llround(seconds(session_beats) * r)))) {}

  // Mixes voice(s), s being seconds since the onset, for `len` seconds from `beat`, with a
  // constant-power pan in [-1, 1] (a mono track gets the left gain, which the normalisation
  // undoes). Anything past the end is dropped.
  template <class Voice> void place(double beat, double len, double pan, Voice&& voice) {
    const auto start = static_cast<std::size_t>(std::llround(seconds(beat) * rate));
    const auto n = static_cast<std::size_t>(std::llround(len * rate));
    const double angle = (pan + 1.0) * std::numbers::pi / 4.0;
    const std::array<double, 2> gain{std::cos(angle), std::sin(angle)};
    for (std::size_t i = 0; i < n && start + i < ch[0].size(); ++i) {
      const double v = voice(static_cast<double>(i) / rate);
      for (std::size_t c = 0; c < ch.size(); ++c)
        ch[c][start + i] += gain.at(c) * v;
    }
  }
};

track drums() {
  // One bar of 16ths per row; a digit is a velocity in ninths, '.' a rest.
  constexpr const char* kick = "9.....7.9.......";
  constexpr const char* snare = "....9..2....9...";
  constexpr const char* fill = "....9..2....9467"; // every 4th bar leads into the next phrase
  constexpr const char* hats = "3.6.3.6.3.6.3.6.";
  constexpr const char* hats16 = "3162316231623162"; // bars 5-8 get 16ths for lift
  track t(48000.0, 2);
  noise rng(0x4C6F6F70686F6C65u);
  for (int bar = 0; bar < 8; ++bar)
    for (std::size_t step = 0; step < 16; ++step) {
      const double beat = bar * 4 + static_cast<double>(step) / 4.0;
      const auto velocity = [step](const char* row) {
        return row[step] == '.' ? 0.0 : (row[step] - '0') / 9.0;
      };
      if (const double v = velocity(kick); v > 0.0)
        t.place(beat, 0.6, 0.0, [v](double s) {
          // Pitch falls from 160 to 48 Hz; the phase is the closed-form integral of it.
          const double phase = two_pi * (48.0 * s + 112.0 / 30.0 * (1.0 - std::exp(-30.0 * s)));
          return v * std::sin(phase) * std::exp(-8.0 * s);
        });
      if (const double v = velocity(bar % 4 == 3 ? fill : snare); v > 0.0)
        t.place(beat, 0.3, 0.0, [v, &rng, lp = 0.0](double s) mutable {
          lp += 0.5 * (rng.next() - lp); // takes the harshest top off the noise
          const double body = std::sin(two_pi * 185.0 * s) * std::exp(-30.0 * s);
          return v * (0.5 * body + 0.7 * lp * std::exp(-16.0 * s));
        });
      if (const double v = velocity(bar < 4 ? hats : hats16); v > 0.0)
        t.place(beat, 0.09, 0.3, [v, &rng, x1 = 0.0, y1 = 0.0, y2 = 0.0](double s) mutable {
          // Two one-pole high-passes near 7 kHz: only the sizzle of the noise is left.
          const double x = rng.next();
          const double y1_before = y1;
          y1 = 0.52 * (y1 + x - x1);
          y2 = 0.52 * (y2 + y1 - y1_before);
          x1 = x;
          return v * y2 * std::exp(-45.0 * s);
        });
    }
  return t;
}

track bass() {
  // Beat in the bar, length, interval above the root: it locks with the kick.
  constexpr std::array<note, 6> riff{
      {{0, 1.25, 0}, {1.5, 0.5, 0}, {2, 0.5, 12}, {2.5, 0.5, 0}, {3, 0.5, 7}, {3.5, 0.5, 12}}};
  track t(48000.0, 1);
  for (int bar = 0; bar < 8; ++bar)
    for (const note& n : riff) {
      const double f = hz(roots.at(static_cast<std::size_t>(bar % 4)) + n.pitch);
      const double hold = seconds(n.len) - 0.03;
      t.place(bar * 4 + n.beat, hold + 0.03, 0.0, [f, hold](double s) {
        // Band-limited saw whose upper harmonics die first: a closing low-pass, a pluck.
        double v = 0.0;
        for (int k = 1; k <= 10; ++k)
          v += std::sin(two_pi * f * k * s) / k * std::exp(-(k - 1) * 5.0 * s);
        return v * envelope(s, 0.005, hold, 0.03);
      });
    }
  return t;
}

track chords() {
  constexpr double release = 0.8; // overlaps the next chord's attack, so the pad never gaps
  track t(48000.0, 2);
  for (int bar = 0; bar < 8; ++bar) {
    const double hold = seconds(4) - (bar == 7 ? release : 0.0); // the last one ends in time
    for (const int pitch : voicings.at(static_cast<std::size_t>(bar % 4)))
      for (int d = -1; d <= 1; ++d) {
        // Three copies 6 cents apart, spread left to right: width and a gentle chorus.
        const double f = hz(pitch + 0.06 * d);
        t.place(bar * 4, hold + release, 0.6 * d, [f, hold](double s) {
          const double bell = 0.2 * std::sin(2.0 * two_pi * f * s) * std::exp(-3.0 * s);
          return (std::sin(two_pi * f * s) + bell) * envelope(s, 0.25, hold, release);
        });
      }
  }
  return t;
}

track lead() {
  // Bars 5-8 only (beats 16-32), over Am - F - C - G.
  // clang-format off
  constexpr std::array<note, 18> melody{{
      {16, 1, 69}, {17, 0.5, 72}, {17.5, 1.5, 76}, {19, 0.5, 74}, {19.5, 0.5, 72}, // Am
      {20, 1, 72}, {21, 0.5, 69}, {21.5, 0.5, 72}, {22, 1.5, 77}, {23.5, 0.5, 76}, // F
      {24, 1, 76}, {25, 0.5, 79}, {25.5, 0.5, 76}, {26, 1, 74},   {27, 1, 72},     // C
      {28, 1.5, 74}, {29.5, 0.5, 71}, {30, 1.5, 67}}};                             // G
  // clang-format on
  track t(44100.0, 1); // 44.1 kHz on purpose: the engine has to resample it
  for (const note& n : melody) {
    const double f = hz(n.pitch);
    const double hold = seconds(n.len) - 0.04;
    t.place(n.beat, hold + 0.12, 0.0, [f, hold](double s) {
      // Vibrato only once the note has settled, as a singer would; +-0.4 % at 5.5 Hz.
      const double depth = 0.004 * f / 5.5 * std::clamp((s - 0.15) / 0.2, 0.0, 1.0);
      const double p = two_pi * f * s + depth * std::sin(two_pi * 5.5 * s);
      const double tone = std::sin(p) + 0.3 * std::sin(2.0 * p) + 0.1 * std::sin(3.0 * p);
      return tone * envelope(s, 0.015, hold, 0.12);
    });
  }
  // A dotted-eighth echo, fed back in place, gives the melody a little room.
  const auto delay = static_cast<std::size_t>(std::llround(seconds(0.75) * t.rate));
  auto& x = t.ch[0];
  for (std::size_t i = delay; i < x.size(); ++i)
    x[i] += 0.3 * x[i - delay];
  return t;
}

// Peak-normalises to -3 dBFS and writes 24-bit PCM WAV.
bool write(const track& t, const std::filesystem::path& path) {
  double peak = 0.0;
  for (const auto& c : t.ch)
    for (const double v : c)
      peak = std::max(peak, std::abs(v));
  const double gain = peak > 0.0 ? std::pow(10.0, -3.0 / 20.0) / peak : 0.0;
  const std::size_t frames = t.ch[0].size();
  std::vector<double> interleaved(frames * t.ch.size());
  for (std::size_t i = 0; i < frames; ++i)
    for (std::size_t c = 0; c < t.ch.size(); ++c)
      interleaved[i * t.ch.size() + c] = gain * t.ch[c][i];
  SF_INFO info{};
  info.samplerate = static_cast<int>(t.rate);
  info.channels = static_cast<int>(t.ch.size());
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_24;
  SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
  if (file == nullptr) {
    std::fprintf(stderr, "make_demo_media: %s: %s\n", path.c_str(), sf_strerror(nullptr));
    return false;
  }
  const auto count = static_cast<sf_count_t>(frames);
  const bool ok = sf_writef_double(file, interleaved.data(), count) == count;
  if (!ok)
    std::fprintf(stderr, "make_demo_media: %s: %s\n", path.c_str(), sf_strerror(file));
  return sf_close(file) == 0 && ok;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_demo_media OUTDIR\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    std::fprintf(stderr, "make_demo_media: %s: %s\n", dir.c_str(), error.message().c_str());
    return 1;
  }
  const bool ok = write(drums(), dir / "drums.wav") && write(bass(), dir / "bass.wav") &&
                  write(chords(), dir / "chords.wav") && write(lead(), dir / "lead.wav");
  return ok ? 0 : 1;
}
