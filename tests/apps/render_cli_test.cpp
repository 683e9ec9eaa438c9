// apps/loophole: the real `loophole` executable, end to end. Each test makes its own folder,
// writes float WAV media with libsndfile and a session file, runs `loophole` (which starts
// real `loophole-signal` instances) with a private HOME/XDG environment, and checks the files
// it writes against values computed here, independently, from the documented formulas:
// a null test of the mix, sample-exact fades, byte-identical renders whatever the worker
// count, every output format (checked with libsndfile and, when installed, soxi, flac,
// metaflac and ffprobe), the exit codes and messages of the error paths, --dry-run and
// --json, the configuration layers, and that no run leaves Signal processes, shared memory
// segments, runtime folders or temporary files behind, even when interrupted.

#define BOOST_TEST_MODULE apps_render_cli
#define BOOST_TEST_DYN_LINK
#include <algorithm>
#include <array>
#include <boost/test/unit_test.hpp>

#include "signal/node_processor.hpp"
#include "tests/support/pitch.hpp"
#include "tests/support/sound_file.hpp"
#include "tests/support/processes.hpp"
#include "tests/support/temp_dir.hpp"
#include <cctype>
#include <ebur128.h>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <numbers>
#include <optional>
#include <poll.h>
#include <signal.h>
#include <sndfile.h>
#include <spawn.h>
#include <sstream>
#include <stdlib.h>
#include <string>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#ifndef LOOPHOLE_BIN_DIR
#error "LOOPHOLE_BIN_DIR must name the folder holding loophole and loophole-signal"
#endif

extern char** environ;

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr int rate = 48000;
constexpr double bpm = 120.0;

const std::string loophole_exe = std::string{LOOPHOLE_BIN_DIR} + "/loophole";

// -- a fresh folder per test, also holding the private HOME and XDG folders ------------------

class temp_dir : public loophole::test::temp_dir {
public:
  temp_dir() : loophole::test::temp_dir("render-cli-test") {
    for (const char* sub : {"home", "config", "cache", "run", "out"})
      fs::create_directory(path() / sub);
    fs::permissions(path() / "run", fs::perms::owner_all, fs::perm_options::replace);
  }
  /// Where outputs go: a folder of their own, so that stray files are easy to see.
  std::string out(const std::string& name) const { return (path() / "out" / name).string(); }

  /// Leftover temporary files in the output folder.
  std::vector<std::string> out_partials() const {
    return loophole::test::partial_files(path() / "out");
  }

  /// Every name in the output folder.
  std::vector<std::string> out_listing() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path() / "out"))
      names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

bool contains(const std::vector<char>& bytes, const std::string& needle) {
  return std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end()) != bytes.end();
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

using loophole::test::join;

// -- orphans: every process the test starts hands its orphans to the test -------------------

/// Makes this process the subreaper of its descendants: a `loophole-signal` that outlives
/// its `loophole` is reparented here, where the checks below find it.
struct subreaper_fixture {
  subreaper_fixture() {
    if (!loophole::test::become_subreaper())
      BOOST_TEST_MESSAGE("prctl(PR_SET_CHILD_SUBREAPER) failed: orphan checks are weaker");
  }
};
BOOST_TEST_GLOBAL_FIXTURE(subreaper_fixture);

using loophole::test::proc_entry;
using loophole::test::processes;

/// loophole-signal processes reparented to this test (their loophole is gone).
std::vector<proc_entry> orphaned_signals() {
  std::vector<proc_entry> found;
  const pid_t self = getpid();
  for (const auto& p : processes())
    if (p.ppid == self && p.comm == "loophole-signal")
      found.push_back(p);
  return found;
}

using loophole::test::shm_segments_of;

// -- running loophole ---------------------------------------------------------------------------

struct run_options {
  std::vector<std::string> env; ///< extra "NAME=value" entries
  int signal = 0;               ///< sent once after `signal_after`
  std::chrono::milliseconds signal_after{0};
  std::chrono::seconds time_limit{60}; ///< then the process is killed (a hang)
  bool watch_signals = false;          ///< count loophole's Signal children while it runs
};

struct run_result {
  pid_t pid = -1;
  int code = -1;              ///< exit status, or 128 + the signal that killed it
  bool signaled = false;      ///< killed by a signal rather than exiting
  bool timed_out = false;     ///< killed by this test after run_options::time_limit
  size_t signal_children = 0; ///< most loophole-signal children seen at once (watch_signals)
  std::string out, err;
  double seconds = 0;
};

std::ostream& operator<<(std::ostream& os, const run_result& r) {
  return os << "exit " << r.code << (r.signaled ? " (killed)" : "")
            << (r.timed_out ? " (hung: killed by the test)" : "") << "\n--- stdout:\n"
            << r.out << "--- stderr:\n"
            << r.err << "---";
}

/// After a run: nothing of it is left running or mapped. Kills and reaps what is. After a
/// process this test had to kill (r.timed_out), only cleans up: leftovers are expected then.
void check_hygiene(const temp_dir& dir, const run_result& r, const std::string& what) {
  if (r.timed_out)
    std::this_thread::sleep_for(std::chrono::milliseconds{200}); // PDEATHSIG does its work
  const auto orphans = orphaned_signals();
  if (!r.timed_out)
    BOOST_TEST(orphans.empty(), what << ": " << orphans.size()
                                     << " loophole-signal process(es) outlived loophole (pid "
                                     << r.pid << ")");
  for (const auto& p : orphans) {
    kill(p.pid, SIGKILL);
    waitpid(p.pid, nullptr, 0);
  }
  const auto segments = shm_segments_of(r.pid);
  if (!r.timed_out)
    BOOST_TEST(segments.empty(), what << ": shared memory left behind: " << join(segments));
  for (const auto& s : segments) {
    std::error_code ec;
    fs::remove(fs::path{"/dev/shm"} / s, ec);
  }
  const auto runtime = dir.path() / "run" / ("loophole-" + std::to_string(r.pid));
  if (!r.timed_out)
    BOOST_TEST(!fs::exists(runtime), what << ": runtime folder left behind: " << runtime);
}

/// Runs `loophole args...` with a private environment, capturing stdout and stderr.
run_result run_loophole(const temp_dir& dir, const std::vector<std::string>& args,
                        const run_options& options = {}) {
  std::vector<std::string> argv_s{loophole_exe};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  const char* path_env = std::getenv("PATH");
  std::vector<std::string> env_s{
      "PATH=" + std::string{path_env ? path_env : "/usr/bin:/bin"},
      "HOME=" + (dir.path() / "home").string(),
      "XDG_CONFIG_HOME=" + (dir.path() / "config").string(),
      "XDG_CACHE_HOME=" + (dir.path() / "cache").string(),
      "XDG_RUNTIME_DIR=" + (dir.path() / "run").string(),
      "LANG=C",
  };
  env_s.insert(env_s.end(), options.env.begin(), options.env.end());
  std::vector<char*> argv, envp;
  for (auto& a : argv_s)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_s)
    envp.push_back(e.data());
  envp.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe2 failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2})
    sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  run_result r;
  const auto started = std::chrono::steady_clock::now();
  const int rc =
      posix_spawn(&r.pid, loophole_exe.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    throw std::runtime_error("posix_spawn " + loophole_exe + ": " + std::strerror(rc));
  }
  fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
  fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);

  auto drain = [](int fd, std::string& into) {
    std::array<char, 65536> buf{};
    for (;;) {
      const auto n = read(fd, buf.data(), buf.size());
      if (n <= 0)
        return n == 0; // true: end of file
      into.append(buf.data(), static_cast<size_t>(n));
    }
  };
  bool signal_sent = options.signal == 0;
  bool out_open = true, err_open = true;
  int status = 0;
  bool exited = false;
  while (!exited) {
    std::array<pollfd, 2> fds{pollfd{out_pipe[0], POLLIN, 0}, pollfd{err_pipe[0], POLLIN, 0}};
    poll(fds.data(), fds.size(), 5);
    if (out_open && drain(out_pipe[0], r.out))
      out_open = false;
    if (err_open && drain(err_pipe[0], r.err))
      err_open = false;
    const auto elapsed = std::chrono::steady_clock::now() - started;
    if (!signal_sent && elapsed >= options.signal_after) {
      kill(r.pid, options.signal);
      signal_sent = true;
    }
    if (elapsed > options.signal_after + options.time_limit && !r.timed_out) {
      kill(r.pid, SIGKILL);
      r.timed_out = true;
    }
    if (options.watch_signals) {
      size_t n = 0;
      for (const auto& p : processes())
        n += p.ppid == r.pid && p.comm == "loophole-signal";
      r.signal_children = std::max(r.signal_children, n);
    }
    const pid_t w = waitpid(r.pid, &status, WNOHANG);
    exited = w == r.pid;
  }
  // What the process wrote before exiting is in the pipes (a leaked grandchild may still
  // hold them open: do not wait for the end of file).
  drain(out_pipe[0], r.out);
  drain(err_pipe[0], r.err);
  close(out_pipe[0]);
  close(err_pipe[0]);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (WIFEXITED(status)) {
    r.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.code = 128 + WTERMSIG(status);
    r.signaled = true;
  }
  check_hygiene(dir, r, "loophole " + join(args));
  return r;
}

// -- media and sessions ------------------------------------------------------------------------

/// A float WAV file of `channels` interleaved channels.
struct media_file {
  std::string name;
  int channels = 1;
  std::vector<float> samples; // interleaved
  int64_t frames() const { return static_cast<int64_t>(samples.size()) / channels; }
  float at(int64_t frame, int channel) const {
    return samples[static_cast<size_t>(frame * channels + channel)];
  }
};

void write_media(const temp_dir& dir, const media_file& m) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = m.channels;
  info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  SNDFILE* f = sf_open(dir.file(m.name).c_str(), SFM_WRITE, &info);
  BOOST_TEST_REQUIRE(f != nullptr, "cannot write " << m.name << ": " << sf_strerror(nullptr));
  const auto written = sf_writef_float(f, m.samples.data(), m.frames());
  sf_close(f);
  BOOST_TEST_REQUIRE(written == m.frames());
}

/// Sines: channel c at freqs[c] Hz, amplitude amps[c].
media_file sine_media(const std::string& name, double seconds, std::vector<double> freqs,
                      std::vector<double> amps) {
  media_file m;
  m.name = name;
  m.channels = static_cast<int>(freqs.size());
  const auto frames = static_cast<int64_t>(std::llround(seconds * rate));
  m.samples.reserve(static_cast<size_t>(frames) * freqs.size());
  for (int64_t i = 0; i < frames; ++i)
    for (size_t c = 0; c < freqs.size(); ++c)
      m.samples.push_back(static_cast<float>(
          amps[c] * std::sin(2.0 * std::numbers::pi * freqs[c] * static_cast<double>(i) / rate +
                             0.3 * static_cast<double>(c))));
  return m;
}

media_file dc_media(const std::string& name, int64_t frames, float value) {
  media_file m;
  m.name = name;
  m.channels = 1;
  m.samples.assign(static_cast<size_t>(frames), value);
  return m;
}

/// A time value of the session format: {"seconds": x}, {"beats": x} or {"samples": n}.
struct time_value {
  std::string unit;
  double value;

  json to_json() const {
    if (unit == "samples")
      return {{unit, std::llround(value)}};
    return {{unit, value}};
  }
  /// Frames, as documented: round(x * rate), round(x * 60 / bpm * rate), half away from zero.
  int64_t frames() const {
    if (unit == "samples")
      return std::llround(value);
    if (unit == "seconds")
      return std::llround(value * rate);
    return std::llround(value * 60.0 / bpm * rate);
  }
};

time_value seconds(double x) {
  return {"seconds", x};
}
time_value beats(double x) {
  return {"beats", x};
}
time_value samples(int64_t n) {
  return {"samples", static_cast<double>(n)};
}

struct clip_def {
  const media_file* media;
  time_value position;
  double gain_db = 0.0;
  std::optional<time_value> source_offset;
  std::optional<time_value> length;
};

struct track_def {
  std::string id;
  int channels = 2;
  double gain_db = 0.0;
  double pan = 0.0;
  std::vector<clip_def> clips;
};

struct session_def {
  std::string title = "Loophole CLI Test";
  double master_gain_db = 0.0;
  std::vector<track_def> tracks;

  json to_json() const {
    json tracks_j = json::array();
    for (const auto& t : tracks) {
      json clips = json::array();
      for (const auto& c : t.clips) {
        json cj{{"media", c.media->name}, {"position", c.position.to_json()}};
        if (c.gain_db != 0.0)
          cj["gain_db"] = c.gain_db;
        if (c.source_offset)
          cj["source_offset"] = c.source_offset->to_json();
        if (c.length)
          cj["length"] = c.length->to_json();
        clips.push_back(cj);
      }
      tracks_j.push_back({{"id", t.id},
                          {"channels", t.channels},
                          {"gain_db", t.gain_db},
                          {"pan", t.pan},
                          {"clips", clips}});
    }
    return {{"format", "loophole-session"},
            {"version", 1},
            {"sample_rate", rate},
            {"tempo", {{"bpm", bpm}, {"time_signature", {4, 4}}}},
            {"metadata", {{"title", title}, {"artist", "Test Artist"}, {"date", "2024-06-11"}}},
            {"master", {{"gain_db", master_gain_db}}},
            {"tracks", tracks_j}};
  }

  /// The mix, computed in double from the documented formulas; interleaved stereo.
  std::vector<double> expected_mix() const {
    int64_t end = 0;
    for (const auto& t : tracks)
      for (const auto& c : t.clips) {
        const auto offset = c.source_offset ? c.source_offset->frames() : 0;
        const auto length = c.length ? c.length->frames() : c.media->frames() - offset;
        end = std::max(end, c.position.frames() + length);
      }
    std::vector<double> mix(static_cast<size_t>(end) * 2, 0.0);
    const double master = std::pow(10.0, master_gain_db / 20.0);
    for (const auto& t : tracks) {
      const double fader = std::pow(10.0, t.gain_db / 20.0);
      const double theta = (t.pan + 1.0) * std::numbers::pi / 4.0;
      const double pan_gain[2] = {std::cos(theta), std::sin(theta)};
      std::vector<double> bus(static_cast<size_t>(end) * 2, 0.0);
      for (const auto& c : t.clips) {
        const double g = std::pow(10.0, c.gain_db / 20.0);
        const auto offset = c.source_offset ? c.source_offset->frames() : 0;
        const auto length = c.length ? c.length->frames() : c.media->frames() - offset;
        const auto position = c.position.frames();
        for (int64_t k = 0; k < length; ++k)
          for (int ch = 0; ch < t.channels; ++ch) {
            // mono media feed every channel; a mono track plays the media's first channel
            const int mc = c.media->channels == 1 ? 0 : ch;
            bus[static_cast<size_t>((position + k) * 2 + ch)] +=
                g * static_cast<double>(c.media->at(offset + k, mc));
          }
      }
      for (int64_t f = 0; f < end; ++f) {
        const double l = bus[static_cast<size_t>(f * 2)];
        const double r = t.channels == 1 ? l : bus[static_cast<size_t>(f * 2 + 1)];
        mix[static_cast<size_t>(f * 2)] += fader * pan_gain[0] * l;
        mix[static_cast<size_t>(f * 2 + 1)] += fader * pan_gain[1] * r;
      }
    }
    for (auto& x : mix)
      x *= master;
    return mix;
  }
};

std::string write_session(const temp_dir& dir, const std::string& name, const json& doc) {
  const auto path = dir.file(name);
  write_text(path, doc.dump(2));
  return path;
}

/// A session of one track playing `media` from 0 s (`channels` set when given) into `master`.
json single_clip_session(const std::string& media, std::optional<int> channels = {},
                         json master = {{"gain_db", 0.0}}) {
  json track = {{"id", "t"},
                {"clips", json::array({{{"media", media}, {"position", {{"seconds", 0}}}}})}};
  if (channels)
    track["channels"] = *channels;
  return {{"format", "loophole-session"},
          {"version", 1},
          {"sample_rate", rate},
          {"master", std::move(master)},
          {"tracks", json::array({track})}};
}

// -- reading back ---------------------------------------------------------------------------------

using loophole::test::sound_file;

// -- external tools
// ---------------------------------------------------------------------------------

using loophole::test::have;
using loophole::test::shell;

/// Renders `doc` (written as NAME.json) to NAME.wav in 32-bit float; returns its samples.
std::vector<float> render_float(const temp_dir& dir, const json& doc, const std::string& name) {
  const auto session = write_session(dir, name + ".json", doc);
  const auto out = dir.out(name + ".wav");
  const auto r =
    run_loophole(dir, {"render", session, "-o", out, "--bits", "0", "--progress", "none"});
  BOOST_TEST_REQUIRE(r.code == 0, r);
  sound_file f{out};
  return f.floats();
}

std::string lower(std::string s) {
  for (auto& ch : s)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// -- the sessions used by several tests
// --------------------------------------------------------------

/// Three tracks of sines (one mono, two stereo, one with two clips), with every gain, pans,
/// positions in seconds, beats and samples, source offsets and a length: 3 s at 48 kHz.
struct three_tracks {
  media_file a = sine_media("a220.wav", 2.0, {220.0}, {0.3});
  media_file b = sine_media("b330.wav", 2.0, {330.0, 335.0}, {0.25, 0.2});
  media_file c = sine_media("c550.wav", 2.0, {550.0, 560.0}, {0.2, 0.3});
  session_def session;

  explicit three_tracks(const temp_dir& dir) {
    for (const auto* m : {&a, &b, &c})
      write_media(dir, *m);
    session.master_gain_db = -0.5;
    session.tracks = {
        {"mono", 1, -3.0, -0.4, {{&a, seconds(0.123456), -1.5, seconds(0.1), std::nullopt}}},
        {"stereo-b", 2, 2.0, 0.7, {{&b, beats(1.3333), -6.0, std::nullopt, std::nullopt}}},
        {"stereo-c",
         2,
         -2.5,
         0.0,
         {{&c, beats(0.5), 0.0, std::nullopt, std::nullopt},
          {&c, seconds(2.5), 1.0, samples(1000), beats(1.0)}}},
    };
  }
};

/// `material` routed: a group bus and a return with a delay, pre- and post-fader sends, and a
/// lookahead compressor keyed by another track (so its latency is compensated).
json routed_session(const three_tracks& material) {
  auto doc = material.session.to_json();
  doc["buses"] = json::array(
    {{{"id", "verb"}, {"inserts", json::array({{{"kind", "delay"}, {"time", {{"seconds", 0.05}}}, {"feedback", 0.4}}})}},
     {{"id", "grp"}, {"kind", "group"}, {"gain_db", -1.5}, {"sends", json::array({{{"to", "verb"}}})}}});
  doc["tracks"][0]["output"] = "grp";
  doc["tracks"][1]["output"] = "grp";
  doc["tracks"][1]["sends"] = json::array({{{"to", "verb"}, {"gain_db", -3.0}, {"pre_fader", true}}});
  doc["tracks"][2]["sends"] = json::array({{{"to", "verb"}, {"gain_db", -9.0}}});
  doc["tracks"][2]["inserts"] = json::array(
      {{{"kind", "compressor"}, {"sidechain", "mono"}, {"lookahead", {{"seconds", 0.003}}}}});
  return doc;
}

json errors_base_session() {
  return {{"format", "loophole-session"},
          {"version", 1},
          {"sample_rate", rate},
          {"metadata", {{"title", "Errors"}}},
          {"tracks",
           {{{"id", "t"}, {"clips", {{{"media", "tone.wav"}, {"position", {{"seconds", 0}}}}}}}}}};
}

} // namespace

// ==========================================================================================

BOOST_AUTO_TEST_SUITE(mix)

BOOST_AUTO_TEST_CASE(a_float_render_nulls_against_the_mix_computed_from_the_formulas) {
  temp_dir dir;
  three_tracks material{dir};
  const auto session = write_session(dir, "null.json", material.session.to_json());
  const auto out = dir.out("null.wav");
  const auto r =
      run_loophole(dir, {"render", session, "-o", out, "--bits", "0", "--progress", "none"});
  BOOST_TEST_REQUIRE(r.code == 0, r);

  const auto expected = material.session.expected_mix();
  const auto expected_frames = static_cast<int64_t>(expected.size() / 2);
  // The last clip ends at 2.5 s + 1 beat = 3 s.
  BOOST_TEST(expected_frames == 144000);

  sound_file f{out};
  BOOST_TEST_REQUIRE(f.file != nullptr, sf_strerror(nullptr));
  BOOST_TEST((f.info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAV);
  BOOST_TEST((f.info.format & SF_FORMAT_SUBMASK) == SF_FORMAT_FLOAT);
  BOOST_TEST(f.info.channels == 2);
  BOOST_TEST(f.info.samplerate == rate);
  BOOST_TEST(f.info.frames == expected_frames);
  const auto got = f.floats();
  BOOST_TEST_REQUIRE(got.size() == expected.size());
  double residual = 0, peak = 0;
  size_t worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = std::abs(static_cast<double>(got[i]) - expected[i]);
    if (d > residual) {
      residual = d;
      worst = i;
    }
    peak = std::max(peak, std::abs(expected[i]));
  }
  BOOST_TEST(peak > 0.2); // the comparison is not against silence
  BOOST_TEST(residual < 1e-7, "residual " << residual << " (" << 20.0 * std::log10(residual)
                                          << " dBFS) at frame " << worst / 2 << " channel "
                                          << worst % 2);
  BOOST_TEST_MESSAGE("null test residual " << residual << ", peak " << peak);
  BOOST_TEST(dir.out_partials().empty());
}

BOOST_AUTO_TEST_CASE(fades_are_sample_exact) {
  temp_dir dir;
  const auto dc = dc_media("dc.wav", 48000, 0.5f);
  write_media(dir, dc);
  json doc{{"format", "loophole-session"},
           {"version", 1},
           {"sample_rate", rate},
           {"tracks",
            {{{"id", "dc"},
              {"clips",
               {{{"media", "dc.wav"},
                 {"position", {{"samples", 100}}},
                 {"fade_in", {{"length", {{"seconds", 0.1}}}, {"shape", "linear"}}},
                 {"fade_out", {{"length", {{"seconds", 0.2}}}, {"shape", "equal_power"}}}}}}}}}};
  const auto session = write_session(dir, "fades.json", doc);
  const auto out = dir.out("fades.wav");
  const auto r =
      run_loophole(dir, {"render", session, "-o", out, "--bits", "0", "--progress", "none"});
  BOOST_TEST_REQUIRE(r.code == 0, r);

  constexpr int64_t start = 100, length = 48000, fade_in = 4800, fade_out = 9600;
  sound_file f{out};
  BOOST_TEST_REQUIRE(f.file != nullptr);
  BOOST_TEST(f.info.frames == start + length);
  const auto got = f.floats();
  BOOST_TEST_REQUIRE(got.size() == static_cast<size_t>(start + length) * 2);
  const double centre = std::cos(std::numbers::pi / 4.0); // pan 0: -3 dB each side
  double worst = 0;
  int64_t worst_frame = 0;
  for (int64_t i = 0; i < start + length; ++i) {
    double g = 0;
    if (i >= start) {
      const int64_t k = i - start;
      g = 1.0;
      if (k < fade_in)
        g *= static_cast<double>(k) / static_cast<double>(fade_in); // linear t
      if (k >= length - fade_out)                                   // equal power, mirrored
        g *= std::sin(static_cast<double>(length - k) / static_cast<double>(fade_out) *
                      std::numbers::pi / 2.0);
    }
    for (int c = 0; c < 2; ++c) {
      const double d =
          std::abs(static_cast<double>(got[static_cast<size_t>(i * 2 + c)]) - 0.5 * g * centre);
      if (d > worst) {
        worst = d;
        worst_frame = i;
      }
    }
  }
  BOOST_TEST(worst < 1e-7, "fade error " << worst << " at frame " << worst_frame);
  // Spot checks of the shape: silence before, the middle of the fade in, full level, the end.
  BOOST_TEST(got[0] == 0.0f);
  BOOST_TEST(std::abs(static_cast<double>(got[(start + 2400) * 2]) - 0.25 * centre) < 1e-7);
  BOOST_TEST(std::abs(static_cast<double>(got[(start + 20000) * 2]) - 0.5 * centre) < 1e-7);
  BOOST_TEST(std::abs(static_cast<double>(got.back())) < 1e-4);
}

BOOST_AUTO_TEST_SUITE_END()

// ==========================================================================================

BOOST_AUTO_TEST_SUITE(crossfades)

namespace {

/// Uniform noise in [-0.5, 0.5) from a seeded generator (uncorrelated across seeds).
media_file noise_media(const std::string& name, int64_t frames, uint32_t seed) {
  media_file m;
  m.name = name;
  m.channels = 1;
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int64_t i = 0; i < frames; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    m.samples.push_back(static_cast<float>(static_cast<double>(x >> 11) / 9007199254740992.0 - 0.5));
  }
  return m;
}

/// Renders `doc` (one mono track, centred) in float; returns the left channel divided by the
/// pan gain (cos pi/4 at centre), i.e. the track's own signal.
std::vector<double> render_mono_track(const temp_dir& dir, const json& doc, const std::string& name) {
  const auto got = render_float(dir, doc, name);
  std::vector<double> left;
  for (size_t i = 0; i < got.size(); i += 2)
    left.push_back(static_cast<double>(got[i]) / std::cos(std::numbers::pi / 4));
  return left;
}

/// The left channel of a float render of one mono track holding clips a and b, overlapping
/// from 1.5 s to 2 s, with `shape` crossfades; divided by the pan gain (cos pi/4 at centre).
std::vector<double> render_crossfaded(const temp_dir& dir, const media_file& a,
                                      const media_file& b, const std::string& shape,
                                      const std::string& name) {
  write_media(dir, a);
  write_media(dir, b);
  session_def s;
  track_def t;
  t.id = "x";
  t.channels = 1;
  t.clips = {{&a, seconds(0), 0.0, std::nullopt, seconds(2)},
             {&b, seconds(1.5), 0.0, seconds(1.5), seconds(2)}};
  s.tracks = {t};
  auto doc = s.to_json();
  doc["tracks"][0]["crossfade"] = shape;
  return render_mono_track(dir, doc, name);
}

double power_db(const std::vector<double>& x, int64_t from, int64_t to) {
  double sum = 0;
  for (int64_t i = from; i < to; ++i)
    sum += x[static_cast<size_t>(i)] * x[static_cast<size_t>(i)];
  return 10.0 * std::log10(sum / static_cast<double>(to - from));
}

} // namespace

BOOST_AUTO_TEST_CASE(an_equal_power_crossfade_of_uncorrelated_noise_keeps_power_within_0_1_db) {
  temp_dir dir;
  const auto a = noise_media("a.wav", 4 * rate, 1);
  const auto b = noise_media("b.wav", 4 * rate, 2);
  const auto x = render_crossfaded(dir, a, b, "equal_power", "ep");
  BOOST_TEST_REQUIRE(x.size() == static_cast<size_t>(3.5 * rate));
  const double before = power_db(x, 0, 72000);    // a alone
  const double after = power_db(x, 96000, 168000); // b alone
  BOOST_TEST(std::abs(before - after) < 0.1);
  // The overlap, 1.5 s to 2 s, in quarters: each keeps the power of the clips alone.
  for (int q = 0; q < 4; ++q) {
    const int64_t from = 72000 + q * 6000;
    const double p = power_db(x, from, from + 6000);
    BOOST_TEST(std::abs(p - before) < 0.1, "quarter " << q << " of the crossfade: " << p
                                                      << " dB against " << before << " dB");
  }
  // And the fades really happened: a linear crossfade of the same noise dips by about 3 dB.
  const auto lin = render_crossfaded(dir, a, b, "linear", "lin");
  BOOST_TEST(power_db(lin, 81000, 87000) < before - 2.5);
}

BOOST_AUTO_TEST_CASE(a_linear_crossfade_of_identical_material_keeps_the_amplitude) {
  // b plays the same media frames as a across the overlap: the crossfade must not be heard.
  temp_dir dir;
  const auto a = noise_media("same.wav", 4 * rate, 3);
  const auto x = render_crossfaded(dir, a, a, "linear", "same");
  for (int64_t i = 0; i < 168000; ++i) {
    const double expected = static_cast<double>(a.at(i, 0)); // b plays frame i at i too
    const double tolerance = std::ldexp(std::abs(expected), -22) + 1e-12; // a couple of ulps
    BOOST_TEST_REQUIRE(std::abs(x[static_cast<size_t>(i)] - expected) <= tolerance,
                       "frame " << i << ": " << x[static_cast<size_t>(i)] << " vs " << expected);
  }
}

namespace {

/// The left channel (divided by the centre pan gain) of a float render of one mono track comping
/// takes "a" (from `a`) and "b" (from `b`, 4 s each from frame 0): a on [0, 1 s), b on [1 s, 2 s),
/// a on [2 s, 3 s), with 10 ms crossfades of `shape`.
std::vector<double> render_comp(const temp_dir& dir, const media_file& a, const media_file& b,
                                const std::string& shape, const std::string& name) {
  write_media(dir, a);
  write_media(dir, b);
  session_def s;
  s.tracks = {track_def{"vox", 1, 0.0, 0.0, {}}};
  auto doc = s.to_json();
  auto take = [](const media_file& m) {
    return json{{"media", m.name}, {"position", {{"seconds", 0}}}, {"length", {{"seconds", 4}}}};
  };
  auto region = [](const char* id, double from, double to) {
    return json{{"take", id}, {"start", {{"seconds", from}}}, {"end", {{"seconds", to}}}};
  };
  doc["tracks"][0]["takes"] = json::array({json{{"id", "a"}, {"clips", {take(a)}}},
                                           json{{"id", "b"}, {"clips", {take(b)}}}});
  doc["tracks"][0]["comp"] = {
    {"crossfade", {{"length", {{"seconds", 0.01}}}, {"shape", shape}}},
    {"regions", {region("a", 0, 1), region("b", 1, 2), region("a", 2, 3)}}};
  return render_mono_track(dir, doc, name);
}

} // namespace

BOOST_AUTO_TEST_CASE(a_comp_of_identical_takes_with_linear_crossfades_is_inaudible) {
  // Both takes hold the same frames at the same times: every edit must null.
  temp_dir dir;
  const auto a = noise_media("take.wav", 4 * rate, 5);
  const auto x = render_comp(dir, a, a, "linear", "same");
  // The comp ends with half a crossfade after its last edge, fading out.
  BOOST_TEST_REQUIRE(x.size() == static_cast<size_t>(3 * rate + 240));
  for (int64_t i = 0; i < 3 * rate - 240; ++i) {
    const double expected = static_cast<double>(a.at(i, 0));
    const double tolerance = std::ldexp(std::abs(expected), -22) + 1e-12;
    BOOST_TEST_REQUIRE(std::abs(x[static_cast<size_t>(i)] - expected) <= tolerance,
                       "frame " << i << ": " << x[static_cast<size_t>(i)] << " vs " << expected);
  }
}

BOOST_AUTO_TEST_CASE(a_comp_of_uncorrelated_takes_nulls_against_the_equal_power_formula) {
  // Each edit at frame E crossfades over [E - 240, E + 240): the outgoing take times
  // cos(t pi / 2) plus the incoming one times sin(t pi / 2), t = (n - E + 240) / 480.
  temp_dir dir;
  const auto a = noise_media("a.wav", 4 * rate, 6);
  const auto b = noise_media("b.wav", 4 * rate, 7);
  const auto x = render_comp(dir, a, b, "equal_power", "ep");
  BOOST_TEST_REQUIRE(x.size() == static_cast<size_t>(3 * rate + 240));
  auto take_at = [&](int64_t n) { return n < rate || n >= 2 * rate ? &a : &b; };
  for (int64_t n = 0; n < 3 * rate + 240; ++n) {
    double expected = static_cast<double>(take_at(n)->at(n, 0));
    for (int64_t edge : {int64_t{rate}, int64_t{2 * rate}, int64_t{3 * rate}})
      if (n >= edge - 240 && n < edge + 240) {
        const double t = static_cast<double>(n - edge + 240) / 480.0;
        const double in = edge < 3 * rate ? static_cast<double>(take_at(edge)->at(n, 0)) : 0.0;
        expected = std::cos(t * std::numbers::pi / 2) *
                     static_cast<double>(take_at(edge - 1)->at(n, 0)) +
                   std::sin(t * std::numbers::pi / 2) * in;
      }
    BOOST_TEST_REQUIRE(std::abs(x[static_cast<size_t>(n)] - expected) <= 1e-6,
                       "frame " << n << ": " << x[static_cast<size_t>(n)] << " vs " << expected);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(analysis_regions)

namespace {

/// Hits (noise bursts decaying by 1/e every 20 ms) at `frames` over 2 s of near-silence.
media_file clicks_media(const std::string& name, const std::vector<int64_t>& frames, uint32_t seed) {
  auto m = crossfades::noise_media(name, 2 * rate, seed);
  for (auto& x : m.samples)
    x *= 0.002f;
  const auto burst = crossfades::noise_media("", rate / 10, seed + 100);
  for (auto at : frames)
    for (int64_t k = 0; k < rate / 10; ++k)
      m.samples[static_cast<size_t>(at + k)] +=
        burst.samples[static_cast<size_t>(k)] * static_cast<float>(std::exp(-static_cast<double>(k) / 960.0));
  return m;
}

json read_json(const std::string& path) {
  const auto bytes = read_bytes(path);
  return json::parse(std::string{bytes.begin(), bytes.end()});
}

/// Each of `found` lies within 8 frames of the matching frame of `truth`.
void expect_onsets(const json& found, const std::vector<int64_t>& truth) {
  BOOST_TEST_REQUIRE(found.size() == truth.size(), found.dump());
  for (size_t i = 0; i < truth.size(); ++i)
    BOOST_TEST(std::llabs(found[i].get<int64_t>() - truth[i]) <= 8,
               "onset " << i << ": " << found[i] << " against " << truth[i]);
}

} // namespace

BOOST_AUTO_TEST_CASE(a_comp_edit_makes_an_analysis_region_stale_until_it_is_analysed_again) {
  temp_dir dir;
  const std::vector<int64_t> a_clicks{6000, 30000, 60000}, b_clicks{12000, 40000, 80000};
  const auto a = clicks_media("a.wav", a_clicks, 11);
  const auto b = clicks_media("b.wav", b_clicks, 12);
  write_media(dir, a);
  write_media(dir, b);
  session_def s;
  s.tracks = {track_def{"drums", 1, 0.0, 0.0, {}}};
  auto doc = s.to_json();
  auto take = [](const char* file) {
    return json{{"media", file}, {"position", {{"seconds", 0}}}, {"length", {{"seconds", 2}}}};
  };
  doc["tracks"][0]["takes"] = json::array({json{{"id", "a"}, {"clips", {take("a.wav")}}},
                                           json{{"id", "b"}, {"clips", {take("b.wav")}}}});
  auto comp_of = [](const char* first) {
    return json{{"crossfade", {{"length", {{"samples", 0}}}}},
                {"regions", {{{"take", first}, {"start", {{"seconds", 0}}}, {"end", {{"seconds", 1}}}},
                             {{"take", "b"}, {"start", {{"seconds", 1}}}, {"end", {{"seconds", 2}}}}}}};
  };
  doc["tracks"][0]["comp"] = comp_of("a");
  doc["analysis"] = json::array({json{{"id", "hits"}, {"kind", "transients"}, {"track", "drums"},
                                      {"start", {{"seconds", 0}}}, {"end", {{"seconds", 2}}}}});
  const auto session = write_session(dir, "song.json", doc);

  auto r = run_loophole(dir, {"analyse", session});
  BOOST_TEST(r.code == 1, r);
  BOOST_TEST(contains(r.out, "unanalysed"), r);
  r = run_loophole(dir, {"analyse", session, "--update"});
  BOOST_TEST_REQUIRE(r.code == 0, r);
  auto saved = read_json(session);
  BOOST_TEST(saved["analysis"][0]["content_hash"].get<std::string>().size() == 32u);
  // a's clicks in its second of the comp, b's in the next.
  expect_onsets(saved["analysis"][0]["onsets"], {6000, 30000, 80000});
  r = run_loophole(dir, {"analyse", session, "--json"});
  BOOST_TEST(r.code == 0, r);
  BOOST_TEST(json::parse(r.out)["analysis"][0]["state"] == "fresh", r);

  // The comp edit: take b now plays the first second too.
  saved["tracks"][0]["comp"] = comp_of("b");
  write_text(session, saved.dump(2));
  r = run_loophole(dir, {"analyse", session});
  BOOST_TEST(r.code == 1, r);
  BOOST_TEST(contains(r.out, "stale"), r);
  const auto out = dir.out("mix.wav");
  r = run_loophole(dir, {"render", session, "-o", out, "--progress", "none"});
  BOOST_TEST(r.code == 0, r);
  BOOST_TEST(contains(r.err, "warning: analysis region 'hits' is stale"), r);
  r = run_loophole(dir, {"analyse", session, "--update"});
  BOOST_TEST_REQUIRE(r.code == 0, r);
  saved = read_json(session);
  expect_onsets(saved["analysis"][0]["onsets"], b_clicks);
  r = run_loophole(dir, {"render", session, "-o", out, "--progress", "none", "--force"});
  BOOST_TEST(r.code == 0, r);
  BOOST_TEST(!contains(r.err, "stale"), r);
}

BOOST_AUTO_TEST_CASE(swing_60_moves_the_off_beat_16ths_of_an_audio_clip_by_the_exact_offset) {
  // 16 hits on 16ths at 120 bpm (every 6000 frames) over silence. Swing 60 % on a 16th grid
  // moves the off-beat ones 0.05 beat (1200 frames) later; the on-beat ones stay. The hits are
  // found by the pre-analysis pass (transients) before the graph is built.
  temp_dir dir;
  media_file hits;
  hits.name = "hits.wav";
  hits.channels = 1;
  hits.samples.assign(16 * 6000, 0.0f);
  for (int64_t h = 0; h < 16; ++h)
    for (int64_t k = 0; k < 3000; ++k)
      hits.samples[static_cast<size_t>(h * 6000 + k)] =
        static_cast<float>(0.8 * std::exp(-static_cast<double>(k) / 480.0) * (k % 2 ? -1.0 : 1.0));
  write_media(dir, hits);
  session_def s;
  s.tracks = {track_def{"drums", 1, 0.0, 0.0, {{&hits, seconds(0), 0.0, std::nullopt, std::nullopt}}}};
  auto doc = s.to_json();
  doc["grooves"] = {{"swing16", {{"grid", 0.25}, {"swing", 0.6}}}};
  doc["tracks"][0]["clips"][0]["groove"] = "swing16";
  const auto x = crossfades::render_mono_track(dir, doc, "swung");
  for (int64_t h = 0; h < 16; ++h) {
    const int64_t at = h * 6000 + (h % 2 ? 1200 : 0);
    BOOST_TEST_CHECKPOINT("hit " << h << " expected at frame " << at);
    BOOST_TEST(std::abs(x[static_cast<size_t>(at)] - 0.8) < 1e-6, "hit " << h << " at " << at << ": " << x[static_cast<size_t>(at)]);
    BOOST_TEST(std::abs(x[static_cast<size_t>(at - 1)]) < 0.01, "hit " << h << " starts early");
    // The hit plays on, unchanged, for 1000 frames.
    for (int64_t k = 0; k < 1000; ++k)
      BOOST_TEST_REQUIRE(std::abs(x[static_cast<size_t>(at + k)] -
                                  static_cast<double>(hits.at(h * 6000 + k, 0))) <= 1e-6,
                         "hit " << h << " frame " << k);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(automation)

// A fader held at 0 dB, ramping linearly in dB to -12 dB between 1 s and 2 s, holding -12 dB
// until 2.5 s, then stepping to -6 dB: every frame of the render is 0.5 (the media) times
// cos(pi/4) (the centre pan) times the gain the documented curve gives there, to within the
// float rounding of the output.
BOOST_AUTO_TEST_CASE(a_fader_automation_ramp_reproduces_the_exact_per_sample_gains) {
  temp_dir dir;
  const auto dc = dc_media("dc.wav", 3 * rate, 0.5f);
  write_media(dir, dc);
  session_def s;
  track_def t;
  t.id = "x";
  t.channels = 1;
  t.clips = {{&dc, seconds(0), 0.0, std::nullopt, std::nullopt}};
  s.tracks = {t};
  auto doc = s.to_json();
  doc["tracks"][0]["automation"] = {
    {"gain_db", json::array({{{"at", {{"seconds", 1.0}}}, {"value", 0.0}},
                             {{"at", {{"seconds", 2.0}}}, {"value", -12.0}, {"curve", "hold"}},
                             {{"at", {{"seconds", 2.5}}}, {"value", -6.0}}})}};
  const auto got = render_float(dir, doc, "auto");
  BOOST_TEST_REQUIRE(got.size() == static_cast<size_t>(3 * rate * 2));
  const double pan = std::cos(std::numbers::pi / 4);
  for (int64_t i = 0; i < 3 * rate; ++i) {
    double db = 0;
    if (i >= rate && i < 2 * rate)
      db = -12.0 * static_cast<double>(i - rate) / rate;
    else if (i >= 2 * rate && i < 2 * rate + rate / 2)
      db = -12.0;
    else if (i >= 2 * rate + rate / 2)
      db = -6.0;
    const double expected = 0.5 * pan * std::pow(10.0, db / 20.0);
    const double v = static_cast<double>(got[static_cast<size_t>(i * 2)]);
    BOOST_TEST_REQUIRE(std::abs(v - expected) <= expected * 3e-7,
                       "frame " << i << ": " << v << " vs " << expected);
  }
}

namespace {

/// Renders a mono track playing 3 s of DC 0.5 with the given track keys merged in; returns the
/// interleaved stereo floats.
std::vector<float> render_dc_track(const temp_dir& dir, const json& track_keys,
                                   const std::string& name, const json& tempo = nullptr) {
  const auto dc = dc_media("dc.wav", 3 * rate, 0.5f);
  write_media(dir, dc);
  session_def s;
  s.tracks = {track_def{"x", 1, 0.0, 0.0, {{&dc, seconds(0), 0.0, std::nullopt, std::nullopt}}}};
  auto doc = s.to_json();
  doc["tracks"][0].update(track_keys);
  if (!tempo.is_null())
    doc["tempo"] = tempo;
  auto got = render_float(dir, doc, name);
  BOOST_TEST_REQUIRE(got.size() == static_cast<size_t>(3 * rate * 2));
  return got;
}

/// Both channels of every frame against the constant-power pan of 0.5 at `position(i)` times
/// `gain(i)`, to float rounding.
template <class Position, class Gain>
void expect_panned(const std::vector<float>& got, Position position, Gain gain) {
  for (int64_t i = 0; i < 3 * rate; ++i) {
    const double theta = (std::clamp(position(i), -1.0, 1.0) + 1.0) * std::numbers::pi / 4.0;
    const double want[2] = {0.5 * gain(i) * std::cos(theta), 0.5 * gain(i) * std::sin(theta)};
    for (int c = 0; c < 2; ++c) {
      const double v = static_cast<double>(got[static_cast<size_t>(i * 2 + c)]);
      BOOST_TEST_REQUIRE(std::abs(v - want[c]) <= 1e-6,
                         "frame " << i << " channel " << c << ": " << v << " vs " << want[c]);
    }
  }
}

} // namespace

BOOST_AUTO_TEST_CASE(a_tempo_synced_lfo_on_the_pan_follows_a_tempo_ramp_to_the_sample) {
  // 120 bpm ramping to 180 over beats 2..4 (linear in time), one LFO cycle per beat, depth 0.8
  // around a pan automated from -0.5 to 0.5 over the 3 s. The expected beat at every frame comes
  // from the ramp's closed form, computed here in long double.
  temp_dir dir;
  const json tempo = {{"bpm", 120}, {"changes", {{{"beat", 2}, {"bpm", 120}},
                                                  {{"beat", 4}, {"bpm", 180}, {"ramp", true}}}}};
  const auto got = render_dc_track(
    dir,
    {{"automation", {{"pan", {{{"at", {{"seconds", 0}}}, {"value", -0.5}},
                              {{"at", {{"seconds", 3}}}, {"value", 0.5}}}}}},
     {"modulators", {{{"target", "pan"}, {"kind", "lfo"}, {"period", {{"beats", 1}}},
                      {"phase", 0.25}, {"depth", 0.8}}}}},
    "lfo", tempo);
  // Ramp from t0 = 1 s (beat 2) lasting d = 120 * 2 / (120 + 180) = 0.8 s, a = 60 / 0.8 bpm/s.
  auto beat_at = [](long double t) -> long double {
    if (t <= 1.0L)
      return 2.0L * t;
    const long double d = 0.8L, a = 60.0L / d;
    if (t <= 1.0L + d) {
      const long double u = t - 1.0L;
      return 2.0L + (120.0L * u + a * u * u / 2.0L) / 60.0L;
    }
    return 4.0L + 3.0L * (t - 1.0L - d);
  };
  expect_panned(
    got,
    [&](int64_t i) {
      const double base = -0.5 + static_cast<double>(i) / (3.0 * rate);
      const long double cycles = 0.25L + beat_at(static_cast<long double>(i) / rate);
      return base + 0.8 * std::sin(2.0 * std::numbers::pi *
                                   static_cast<double>(cycles - std::floor(cycles)));
    },
    [](int64_t) { return 1.0; });
}

BOOST_AUTO_TEST_CASE(a_step_sequencer_and_an_envelope_follower_on_the_fader) {
  // Steps of an eighth note (0.25 s at 120 bpm) over 0, -1, 0.5: the fader at 12 dB times the step.
  temp_dir dir;
  const std::vector<double> steps{0.0, -1.0, 0.5};
  auto got = render_dc_track(
    dir,
    {{"modulators", {{{"target", "gain_db"}, {"kind", "steps"}, {"period", {{"beats", 0.5}}},
                      {"steps", steps}, {"depth", 12.0}}}}},
    "steps");
  expect_panned(got, [](int64_t) { return 0.0; }, [&](int64_t i) {
    return std::pow(10.0, 12.0 * steps[static_cast<size_t>(i / (rate / 4)) % 3] / 20.0);
  });
  // A follower of the track's own level (0.5 from the first frame), attack 5 ms: the gain
  // falls to -6 dB * 0.5 along the one-pole envelope e[n] = e[n-1] + (0.5 - e[n-1]) (1 - e^(-1/240)).
  got = render_dc_track(
    dir,
    {{"modulators", {{{"target", "gain_db"}, {"kind", "follower"}, {"attack_ms", 5.0},
                      {"depth", -6.0}}}}},
    "follower");
  std::vector<double> env(static_cast<size_t>(3 * rate));
  double e = 0.0;
  const double k = 1.0 - std::exp(-1.0 / 240.0);
  for (auto& x : env) {
    e += (0.5 - e) * k;
    x = e;
  }
  expect_panned(got, [](int64_t) { return 0.0; },
                [&](int64_t i) { return std::pow(10.0, -6.0 * env[static_cast<size_t>(i)] / 20.0); });
}

// A clip gain envelope (times from the clip's start, replacing its gain_db): -6 dB held for
// 0.25 s, then a line in dB to -20 dB at 1 s, and a fade in of 0.1 s on top.
BOOST_AUTO_TEST_CASE(a_clip_gain_envelope_reproduces_the_exact_per_sample_gains) {
  temp_dir dir;
  const auto dc = dc_media("dc.wav", 2 * rate, 0.5f);
  write_media(dir, dc);
  session_def s;
  track_def t;
  t.id = "x";
  t.channels = 1;
  t.clips = {{&dc, seconds(0.5), -3.0, std::nullopt, seconds(1.5)}};
  s.tracks = {t};
  auto doc = s.to_json();
  auto& clip = doc["tracks"][0]["clips"][0];
  clip["fade_in"] = {{"length", {{"seconds", 0.1}}}, {"shape", "linear"}};
  clip["gain_envelope"] =
    json::array({{{"at", {{"seconds", 0.0}}}, {"value", -6.0}, {"curve", "hold"}},
                 {{"at", {{"seconds", 0.25}}}, {"value", -6.0}},
                 {{"at", {{"seconds", 1.0}}}, {"value", -20.0}}});
  const auto got = render_float(dir, doc, "env");
  BOOST_TEST_REQUIRE(got.size() == static_cast<size_t>(2 * rate * 2));
  const double pan = std::cos(std::numbers::pi / 4);
  for (int64_t i = 0; i < 2 * rate; ++i) {
    double expected = 0;
    if (i >= rate / 2) {
      const int64_t k = i - rate / 2; // frames into the clip
      double db = -6.0;
      if (k >= rate / 4 && k < rate)
        db = -6.0 - 14.0 * static_cast<double>(k - rate / 4) / (0.75 * rate);
      else if (k >= rate)
        db = -20.0;
      const double fade = k < rate / 10 ? static_cast<double>(k) / (rate / 10) : 1.0;
      expected = 0.5 * pan * std::pow(10.0, db / 20.0) * fade;
    }
    const double v = static_cast<double>(got[static_cast<size_t>(i * 2)]);
    BOOST_TEST_REQUIRE(std::abs(v - expected) <= expected * 3e-7 + 1e-12,
                       "frame " << i << ": " << v << " vs " << expected);
  }
}

BOOST_AUTO_TEST_CASE(bad_automation_is_refused_naming_the_point) {
  temp_dir dir;
  const auto dc = dc_media("dc.wav", rate, 0.5f);
  write_media(dir, dc);
  session_def s;
  track_def t;
  t.id = "x";
  t.clips = {{&dc, seconds(0), 0.0, std::nullopt, std::nullopt}};
  s.tracks = {t};
  auto doc = s.to_json();
  doc["tracks"][0]["automation"] = {
    {"gain_db", json::array({{{"at", {{"seconds", 1.0}}}, {"value", 0.0}},
                             {{"at", {{"seconds", 0.5}}}, {"value", -3.0}}})}};
  const auto session = write_session(dir, "bad.json", doc);
  const auto r = run_loophole(dir, {"render", session, "-o", dir.out("bad.wav"), "--progress", "none"});
  BOOST_TEST(r.code == 65, r);
  BOOST_TEST(contains(r.err, "/tracks/0/automation/gain_db/1/at"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(determinism)

// A range is the same samples as those frames of the whole render, dither
// included (the dither is a function of the timeline frame), in every unit.
namespace {

/// The 24-bit words of the whole render of `session` (to out/full.wav).
std::vector<int32_t> full_render(const temp_dir& dir, const std::string& session) {
  const auto full = run_loophole(dir, {"render", session, "-o", dir.out("full.wav"), "--bits",
                                       "24", "--progress", "none"});
  BOOST_TEST_REQUIRE(full.code == 0, full);
  sound_file whole{dir.out("full.wav")};
  BOOST_TEST_REQUIRE(whole.file != nullptr);
  return whole.ints();
}

} // namespace

BOOST_AUTO_TEST_CASE(a_range_render_equals_those_frames_of_the_full_render) {
  temp_dir dir;
  three_tracks material{dir};
  const auto session = write_session(dir, "range.json", material.session.to_json());
  const auto all = full_render(dir, session);
  // 0.5 s to 1.5 s at 48 kHz and 120 bpm, written three ways.
  int n = 0;
  for (const auto& range : {"0.5:1.5", "1b:3b", "24000smp:72000smp"}) {
    const auto name = "part" + std::to_string(n++) + ".wav";
    const auto r = run_loophole(dir, {"render", session, "-o", dir.out(name), "--bits", "24",
                                      "--range", range, "--progress", "none", "--json"});
    BOOST_TEST_REQUIRE(r.code == 0, r);
    BOOST_TEST(json::parse(r.out).value("frames", 0) == 48000, r.out);
    sound_file part{dir.out(name)};
    BOOST_TEST_REQUIRE(part.file != nullptr);
    BOOST_TEST_REQUIRE(part.info.frames == 48000);
    const auto got = part.ints();
    const std::vector<int32_t> expected(all.begin() + 24000 * 2, all.begin() + 72000 * 2);
    BOOST_TEST((got == expected), "--range " << range << " differs from the full render");
  }
}

// Several --range in one run: a file each, named from the template, each the same frames as
// the full render's; a name without a placeholder, two ranges writing one file, or a file
// that exists stop the run before anything is rendered.
BOOST_AUTO_TEST_CASE(several_ranges_write_a_file_each_equal_to_the_full_renders_frames) {
  temp_dir dir;
  three_tracks material{dir};
  const auto session = write_session(dir, "ranges.json", material.session.to_json());
  const auto all = full_render(dir, session);
  const auto r = run_loophole(dir, {"render", session, "-o", dir.out("part-{index}-{range}.wav"),
                                    "--bits", "24", "--range", "0.5:1.5", "--range", "0:0.25",
                                    "--range", "2b:3b", "--progress", "none"});
  BOOST_TEST_REQUIRE(r.code == 0, r);
  const struct {
    std::string name;
    int64_t first, count;
  } parts[] = {{"part-1-0.5-1.5.wav", 24000, 48000},
               {"part-2-0-0.25.wav", 0, 12000},
               {"part-3-2b-3b.wav", 48000, 24000}};
  for (const auto& p : parts) {
    BOOST_TEST_CONTEXT(p.name) {
      sound_file part{dir.out(p.name)};
      BOOST_TEST_REQUIRE(part.file != nullptr);
      BOOST_TEST_REQUIRE(part.info.frames == p.count);
      const std::vector<int32_t> expected(all.begin() + p.first * 2,
                                          all.begin() + (p.first + p.count) * 2);
      BOOST_TEST((part.ints() == expected), "differs from the full render");
    }
  }
  const std::vector<std::pair<std::vector<std::string>, std::string>> refused = {
    {{"-o", dir.out("one.wav"), "--range", "0:1", "--range", "1:2"},
     "2 ranges need {index} or {range}"},
    {{"-o", dir.out("same-{range}.wav"), "--range", "0:1", "--range", "0:1"}, "both write"},
    {{"-o", dir.out("part-{index}-{range}.wav"), "--range", "0.5:1.5", "--range", "0:0.25"},
     "exists"},
  };
  for (const auto& [extra, message] : refused) {
    BOOST_TEST_CONTEXT(join(extra)) {
      std::vector<std::string> args{"render", session, "--progress", "none"};
      args.insert(args.end(), extra.begin(), extra.end());
      const auto before = fs::directory_iterator(dir.path() / "out");
      const auto files = std::distance(before, fs::directory_iterator{});
      const auto bad = run_loophole(dir, args);
      BOOST_TEST(bad.code != 0, bad);
      BOOST_TEST(contains(bad.err, message), bad.err);
      BOOST_TEST(std::distance(fs::directory_iterator(dir.path() / "out"),
                               fs::directory_iterator{}) == files, "a file was written");
    }
  }
}

BOOST_AUTO_TEST_CASE(renders_are_byte_identical_across_runs_and_worker_counts) {
  temp_dir dir;
  three_tracks material{dir};
  const auto session = write_session(dir, "det.json", material.session.to_json());
  auto render = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> args{"render", session, "-o", dir.out(name), "--progress", "none"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run_loophole(dir, args);
    BOOST_TEST_REQUIRE(r.code == 0, r);
    const auto workers = std::find(extra.begin(), extra.end(), "--workers");
    if (workers != extra.end()) {
      // as many Signal instances as asked for (3 tracks and the master: 4 partitions)
      const auto summary = json::parse(r.out);
      BOOST_TEST(summary.value("workers", 0u) == std::stoul(*std::next(workers)), r.out);
    }
    return read_bytes(dir.out(name));
  };
  const auto first = render("run1.wav", {"--bits", "24"});
  const auto second = render("run2.wav", {"--bits", "24"});
  const auto w1 = render("w1.wav", {"--bits", "24", "--workers", "1", "--json"});
  const auto w2 = render("w2.wav", {"--bits", "24", "--workers", "2", "--json"});
  const auto w4 = render("w4.wav", {"--bits", "24", "--workers", "4", "--json"});
  const auto seeded = render("seed7.wav", {"--bits", "24", "--dither-seed", "7"});
  BOOST_TEST(first.size() > 144000u * 6u);
  BOOST_TEST((first == second), "two runs differ");
  BOOST_TEST((first == w1), "--workers 1 differs");
  BOOST_TEST((first == w2), "--workers 2 differs");
  BOOST_TEST((first == w4), "--workers 4 differs");
  BOOST_TEST((first != seeded), "--dither-seed 7 gives the same bytes as the default seed");
  BOOST_TEST(seeded.size() == first.size());

  // 16-bit, dithered and not: within one LSB of each other everywhere, and not identical.
  render("d16.wav", {"--bits", "16"});
  render("n16.wav", {"--bits", "16", "--dither", "none"});
  sound_file d{dir.out("d16.wav")}, n{dir.out("n16.wav")};
  BOOST_TEST_REQUIRE(d.file != nullptr);
  BOOST_TEST_REQUIRE(n.file != nullptr);
  BOOST_TEST((d.info.format & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_16);
  BOOST_TEST(d.info.frames == 144000);
  const auto dv = d.ints(), nv = n.ints();
  BOOST_TEST_REQUIRE(dv.size() == nv.size());
  int64_t most = 0;
  size_t differing = 0;
  for (size_t i = 0; i < dv.size(); ++i) {
    // left-aligned in 32 bits: one 16-bit LSB is 65536
    const int64_t lsb = (int64_t{dv[i]} - int64_t{nv[i]}) / 65536;
    most = std::max(most, std::abs(lsb));
    differing += lsb != 0;
  }
  BOOST_TEST(most <= 1, "dithered and undithered differ by " << most << " LSB");
  BOOST_TEST(differing > dv.size() / 10, "the dither changed only " << differing << " samples");
}

BOOST_AUTO_TEST_SUITE_END()

// ==========================================================================================

BOOST_AUTO_TEST_SUITE(warp)

namespace {

// One mono track playing "tone.wav" with `warp`, from `position`.
json warp_session(const json& warp, const json& position, const json& tempo = {{"bpm", bpm}}) {
  json clip{{"media", "tone.wav"}, {"position", position}, {"warp", warp}};
  return {{"format", "loophole-session"},
          {"version", 1},
          {"sample_rate", rate},
          {"tempo", tempo},
          {"tracks", {{{"id", "t"}, {"channels", 1}, {"clips", {clip}}}}}};
}

// The rendered file's frames, read by soxi when it is installed, else by libsndfile.
int64_t frames_of(const std::string& path) {
  if (have("soxi")) {
    const auto [status, out] = shell("soxi -s '" + path + "'");
    BOOST_TEST_REQUIRE(status == 0, "soxi -s " << path);
    return std::stoll(out);
  }
  sound_file f{path};
  return f.info.frames;
}

// The tone of the left channel over the middle 80% of frames [first, last).
double rendered_pitch(const std::string& path, int64_t first, int64_t last) {
  sound_file f{path};
  BOOST_TEST_REQUIRE(f.file != nullptr, sf_strerror(nullptr));
  const auto x = f.floats();
  const auto margin = (last - first) / 10;
  return loophole::test::tone_frequency(x.data(), first + margin, last - margin, rate,
                                        f.info.channels);
}

} // namespace

BOOST_AUTO_TEST_CASE(a_warped_clip_renders_to_the_sample_at_its_pitch_the_same_every_time) {
  temp_dir dir;
  const auto tone = sine_media("tone.wav", 2.0, {1000.0}, {0.5});
  write_media(dir, tone);
  const int64_t position = 4800;
  const auto warped = std::llround(1.25 * static_cast<double>(tone.frames()));
  for (const std::string mode : {"stretch", "varispeed"}) {
    const auto session = write_session(dir, mode + ".json",
                                       warp_session({{"mode", mode}, {"ratio", 1.25}},
                                                    {{"samples", position}}));
    auto render = [&](const std::string& name, const std::vector<std::string>& extra) {
      std::vector<std::string> args{"render", session, "-o", dir.out(name), "--bits", "0",
                                    "--progress", "none"};
      args.insert(args.end(), extra.begin(), extra.end());
      const auto r = run_loophole(dir, args);
      BOOST_TEST_REQUIRE(r.code == 0, r);
      return read_bytes(dir.out(name));
    };
    // The first render makes the derived media; the others find it in the cache.
    const auto first = render(mode + "-1.wav", {});
    BOOST_TEST(!fs::is_empty(dir.path() / "cache" / "loophole" / "warped"));
    BOOST_TEST(frames_of(dir.out(mode + "-1.wav")) == position + warped);
    const double expected = mode == "stretch" ? 1000.0 : 1000.0 / 1.25;
    const auto f = rendered_pitch(dir.out(mode + "-1.wav"), position, position + warped);
    BOOST_TEST_MESSAGE(mode << " 1.25 rendered: " << f << " Hz, "
                            << loophole::test::cents(f, expected) << " cents off " << expected);
    BOOST_TEST(std::abs(loophole::test::cents(f, expected)) < 1.0);
    BOOST_TEST((first == render(mode + "-2.wav", {})), "two renders differ");
    BOOST_TEST((first == render(mode + "-w1.wav", {"--workers", "1"})), "--workers 1 differs");
    BOOST_TEST((first == render(mode + "-w2.wav", {"--workers", "2"})), "--workers 2 differs");
  }
}

BOOST_AUTO_TEST_CASE(warp_markers_in_beats_follow_the_tempo_map_and_the_plan_names_the_parent) {
  temp_dir dir;
  const auto tone = sine_media("tone.wav", 2.0, {1000.0}, {0.5});
  write_media(dir, tone);
  // 120 bpm, then 60 from beat 4. The clip starts at beat 2 (1 s); its marker at 3 beats from
  // there is 1 s (beats 2-4) + 1 s (beat 4-5) = 2 s on: the first second of the media takes
  // 2 s (half speed, 500 Hz), and so does the rest, at the same speed, to the media's end.
  const json tempo{{"bpm", 120}, {"changes", {{{"beat", 4}, {"bpm", 60}}}}};
  const json warp{{"mode", "varispeed"},
                  {"markers",
                   {{{"source", {{"samples", 0}}}, {"timeline", {{"samples", 0}}}},
                    {{"source", {{"seconds", 1}}}, {"timeline", {{"beats", 3}}}}}}};
  const auto session =
    write_session(dir, "beats.json", warp_session(warp, {{"beats", 2}}, tempo));
  const int64_t position = rate, warped = 4 * rate;
  const auto out = dir.out("beats.wav");
  const auto r = run_loophole(dir, {"render", session, "-o", out, "--bits", "0", "--progress",
                                    "none"});
  BOOST_TEST_REQUIRE(r.code == 0, r);
  BOOST_TEST(frames_of(out) == position + warped);
  const auto f = rendered_pitch(out, position, position + warped);
  BOOST_TEST_MESSAGE("half speed rendered: " << f << " Hz");
  BOOST_TEST(std::abs(loophole::test::cents(f, 500.0)) < 1.0);

  const auto js = run_loophole(dir, {"render", session, "-o", out, "--dry-run", "--json"});
  BOOST_TEST_REQUIRE(js.code == 0, js);
  const auto media = json::parse(js.out).at("media");
  BOOST_TEST_REQUIRE(media.size() == 2u, media.dump());
  BOOST_TEST(media[1].at("frames") == warped);
  BOOST_TEST(media[1].at("warp").at("parent_id") == media[0].at("media_id"));
  BOOST_TEST(media[1].at("warp").at("map") ==
             json({0, 0, rate, 2 * rate, 2 * rate, 4 * rate}), media.dump());
}

BOOST_AUTO_TEST_SUITE_END()

// ==========================================================================================

BOOST_AUTO_TEST_SUITE(formats)

namespace {

struct format_case {
  const char* name;
  std::vector<std::string> flags;
  int sf_major;
  int sf_minor;
  bool lossy;
};

} // namespace

BOOST_AUTO_TEST_CASE(every_format_reads_back_with_the_right_shape_and_tags) {
  temp_dir dir;
  const auto tone = sine_media("tone.wav", 1.5, {440.0, 660.0}, {0.4, 0.3});
  write_media(dir, tone);
  session_def s;
  s.title = "Loophole CLI Title";
  s.tracks = {{"tone", 2, -1.0, 0.1, {{&tone, seconds(0.25), 0.0, std::nullopt, std::nullopt}}}};
  const auto session = write_session(dir, "formats.json", s.to_json());
  constexpr int64_t frames = 12000 + 72000;

  const std::vector<format_case> cases{
      {"pcm16.wav", {"--bits", "16"}, SF_FORMAT_WAV, SF_FORMAT_PCM_16, false},
      {"pcm24.wav", {"--bits", "24"}, SF_FORMAT_WAV, SF_FORMAT_PCM_24, false},
      {"pcm32.wav", {"--bits", "32"}, SF_FORMAT_WAV, SF_FORMAT_PCM_32, false},
      {"float.wav", {"--bits", "0"}, SF_FORMAT_WAV, SF_FORMAT_FLOAT, false},
      {"pcm16.flac", {"--bits", "16"}, SF_FORMAT_FLAC, SF_FORMAT_PCM_16, false},
      {"pcm24.flac", {"--bits", "24"}, SF_FORMAT_FLAC, SF_FORMAT_PCM_24, false},
      {"default.aiff", {}, SF_FORMAT_AIFF, SF_FORMAT_PCM_24, false},
      {"vorbis.ogg", {}, SF_FORMAT_OGG, SF_FORMAT_VORBIS, true},
      {"voice.opus", {}, SF_FORMAT_OGG, SF_FORMAT_OPUS, true},
      {"layer3.mp3", {}, SF_FORMAT_MPEG, SF_FORMAT_MPEG_LAYER_III, true},
  };
  const bool soxi = have("soxi"), flac = have("flac"), metaflac = have("metaflac"),
             ffprobe = have("ffprobe");
  if (!soxi)
    BOOST_TEST_MESSAGE("soxi is not installed: its checks are skipped");
  if (!flac)
    BOOST_TEST_MESSAGE("flac is not installed: its checks are skipped");
  if (!metaflac)
    BOOST_TEST_MESSAGE("metaflac is not installed: its checks are skipped");
  if (!ffprobe)
    BOOST_TEST_MESSAGE("ffprobe is not installed: its checks are skipped");

  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      const auto path = dir.out(c.name);
      std::vector<std::string> args{"render", session, "-o", path, "--progress", "none"};
      args.insert(args.end(), c.flags.begin(), c.flags.end());
      const auto r = run_loophole(dir, args);
      BOOST_TEST_REQUIRE(r.code == 0, r);
      {
        sound_file f{path};
        BOOST_TEST_REQUIRE(f.file != nullptr, sf_strerror(nullptr));
        BOOST_TEST(f.info.channels == 2);
        BOOST_TEST(f.info.samplerate == rate);
        BOOST_TEST((f.info.format & SF_FORMAT_TYPEMASK) == c.sf_major);
        BOOST_TEST((f.info.format & SF_FORMAT_SUBMASK) == c.sf_minor);
        if (c.lossy) {
          // encoder delay and padding
          BOOST_TEST(f.info.frames >= frames - 4096);
          BOOST_TEST(f.info.frames <= frames + 4096);
        } else {
          BOOST_TEST(f.info.frames == frames);
        }
        const auto v = f.floats();
        float peak = 0;
        for (float x : v)
          peak = std::max(peak, std::abs(x));
        BOOST_TEST(peak > 0.1f, "peak " << peak); // there is sound in it
        const char* title = sf_get_string(f.file, SF_STR_TITLE);
        if (c.sf_major != SF_FORMAT_MPEG) // libsndfile reads no ID3 tags
          BOOST_TEST(std::string{title ? title : ""} == s.title);
      }
      const auto bytes = read_bytes(path);
      if (c.sf_major == SF_FORMAT_WAV) {
        BOOST_TEST(contains(bytes, s.title), "the title is not in the WAV file");
        BOOST_TEST(contains(bytes, "bext"), "no bext chunk");
        BOOST_TEST(contains(bytes, "INAM"), "no INAM chunk");
      }
      if (c.sf_major == SF_FORMAT_MPEG)
        BOOST_TEST(contains(bytes, s.title), "the title is not in the MP3 file");
      // SoX has no Opus reader.
      if (soxi && c.sf_minor != SF_FORMAT_OPUS)
        BOOST_TEST(shell("soxi '" + path + "'").first == 0, "soxi " << path);
      else if (soxi)
        BOOST_TEST_MESSAGE("soxi check skipped for Opus (SoX reads no Opus)");
      if (c.sf_major == SF_FORMAT_FLAC && flac)
        BOOST_TEST(shell("flac -s -t '" + path + "'").first == 0, "flac -t " << path);
      if (c.sf_major == SF_FORMAT_FLAC && metaflac) {
        const auto [status, out] = shell("metaflac --show-tag=TITLE '" + path + "'");
        BOOST_TEST(status == 0);
        // Vorbis comment names are case-insensitive.
        BOOST_TEST(lower(out).rfind("title=", 0) == 0u, "metaflac says '" << out << "'");
        BOOST_TEST(contains(out, "=" + s.title), "metaflac says '" << out << "'");
      }
      if (ffprobe)
        BOOST_TEST(shell("ffprobe -v error '" + path + "'").first == 0, "ffprobe " << path);
    }
  }
  // Lossy encoders are deterministic too.
  for (const char* name : {"vorbis.ogg", "voice.opus"}) {
    BOOST_TEST_CONTEXT(name) {
      const auto again = dir.out(std::string{"again-"} + name);
      const auto r = run_loophole(dir, {"render", session, "-o", again, "--progress", "none"});
      BOOST_TEST_REQUIRE(r.code == 0, r);
      const auto a = read_bytes(dir.out(name)), b = read_bytes(again);
      BOOST_TEST(a.size() == b.size());
      BOOST_TEST((a == b), "two renders differ");
    }
  }
  BOOST_TEST(dir.out_partials().empty());
}

namespace {

/// The cue points of a WAV file, read from its chunks here (RIFF MCI: `cue ` holds id and
/// sample offset, `LIST`/`adtl`/`labl` the names), not through libsndfile.
std::map<uint32_t, std::pair<uint32_t, std::string>> wav_cues(const std::vector<char>& bytes) {
  auto u32 = [&](size_t at) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
      v = v << 8 | static_cast<unsigned char>(bytes.at(at + static_cast<size_t>(i)));
    return v;
  };
  std::map<uint32_t, std::pair<uint32_t, std::string>> cues;
  BOOST_TEST_REQUIRE(std::string(bytes.data(), 4) == "RIFF");
  BOOST_TEST_REQUIRE(u32(4) + 8 == bytes.size(), "the RIFF size covers the whole file");
  for (size_t at = 12; at + 8 <= bytes.size();) {
    const std::string id(bytes.data() + at, 4);
    const uint32_t size = u32(at + 4);
    const size_t body = at + 8;
    if (id == "cue ")
      for (uint32_t k = 0; k < u32(body); ++k)
        cues[u32(body + 4 + 24 * k)].first = u32(body + 4 + 24 * k + 20); // dwSampleOffset
    if (id == "LIST" && std::string(bytes.data() + body, 4) == "adtl")
      for (size_t sub = body + 4; sub + 12 <= body + size;) {
        const uint32_t length = u32(sub + 4);
        if (std::string(bytes.data() + sub, 4) == "labl")
          cues[u32(sub + 8)].second = std::string(bytes.data() + sub + 12);
        sub += 8 + length + (length & 1);
      }
    at = body + size + (size & 1);
  }
  return cues;
}

} // namespace

// Session markers become cue points: in a WAV with their names (read from the chunks here, and
// by libsndfile), in an AIFF as MARK (read by libsndfile); a range moves them and leaves out
// those outside it; a FLAC says in a note that it has none.
BOOST_AUTO_TEST_CASE(markers_are_cue_points_with_names_in_wav_and_aiff) {
  temp_dir dir;
  write_media(dir, sine_media("tone.wav", 3.0, {440.0}, {0.3}));
  auto doc = single_clip_session("tone.wav", 1);
  doc["markers"] = json::array({{{"name", "Intro"}, {"at", {{"seconds", 0}}}},
                                {{"name", "Verse \u00fc"}, {"at", {{"seconds", 0.5}}}},
                                {{"name", "Chorus!"}, {"at", {{"beats", 4}}}}}); // 2 s at 120 bpm
  const auto session = write_session(dir, "markers.json", doc);
  const std::vector<std::pair<std::string, uint32_t>> all = {
    {"Intro", 0}, {"Verse \u00fc", 24000}, {"Chorus!", 96000}};
  const bool soxi = have("soxi");
  for (const std::string ext : {"wav", "aiff"}) {
    for (const bool ranged : {false, true}) {
      BOOST_TEST_CONTEXT(ext << (ranged ? ", --range 0.25:3" : "")) {
        const auto out = dir.out(std::string{"markers"} + (ranged ? "-range." : ".") + ext);
        std::vector<std::string> args{"render", session, "-o", out, "--progress", "none"};
        if (ranged)
          args.insert(args.end(), {"--range", "0.25:3"});
        const auto r = run_loophole(dir, args);
        BOOST_TEST_REQUIRE(r.code == 0, r);
        std::vector<std::pair<std::string, uint32_t>> expected;
        for (const auto& [name, frame] : all)
          if (!ranged)
            expected.push_back({name, frame});
          else if (frame >= 12000)
            expected.push_back({name, frame - 12000});
        if (ext == "wav") {
          const auto cues = wav_cues(read_bytes(out));
          BOOST_TEST_REQUIRE(cues.size() == expected.size());
          size_t i = 0;
          for (const auto& [id, cue] : cues) {
            BOOST_TEST(cue.first == expected[i].second, "cue " << id);
            BOOST_TEST(cue.second == expected[i].first, "cue " << id);
            ++i;
          }
        }
        loophole::test::sound_file f{out};
        BOOST_TEST_REQUIRE(f.file != nullptr);
        static SF_CUES cues;
        cues = SF_CUES{};
        BOOST_TEST_REQUIRE(sf_command(f.file, SFC_GET_CUE, &cues, sizeof cues) == SF_TRUE);
        BOOST_TEST_REQUIRE(cues.cue_count == expected.size());
        for (size_t i = 0; i < expected.size(); ++i) {
          BOOST_TEST(cues.cue_points[i].sample_offset == expected[i].second);
          BOOST_TEST(std::string{cues.cue_points[i].name} == expected[i].first);
        }
        BOOST_TEST(f.info.frames == (ranged ? 132000 : 144000));
        if (soxi)
          BOOST_TEST(shell("soxi '" + out + "'").first == 0, "soxi " << out);
      }
    }
  }
  const auto r = run_loophole(dir, {"render", session, "-o", dir.out("markers.flac"),
                                    "--progress", "none"});
  BOOST_TEST_REQUIRE(r.code == 0, r);
  BOOST_TEST(contains(r.err, "3 markers are not in the flac file"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()

// ==========================================================================================

BOOST_AUTO_TEST_SUITE(errors)

namespace {

/// Runs a render that must fail with `code`, mentioning each of `needles` on stderr, and
/// leave neither the output nor a temporary file.
void expect_failure(const temp_dir& dir, const std::vector<std::string>& args, int code,
                    const std::vector<std::string>& needles, const std::string& output) {
  const auto before = dir.out_listing();
  const auto r = run_loophole(dir, args);
  BOOST_TEST(r.code == code, "loophole " << join(args) << ": " << r);
  BOOST_TEST(!r.signaled);
  for (const auto& n : needles)
    BOOST_TEST(contains(r.err, n), "stderr lacks \"" << n << "\": " << r.err);
  if (!output.empty())
    BOOST_TEST(!fs::exists(output), output << " was written");
  BOOST_TEST(dir.out_partials().empty());
  BOOST_TEST(loophole::test::partial_files(fs::path{output}.parent_path()).empty());
  BOOST_TEST(dir.out_listing() == before, "the output folder changed");
}

} // namespace

BOOST_AUTO_TEST_CASE(each_error_has_its_exit_code_a_message_naming_the_place_and_no_output) {
  temp_dir dir;
  write_media(dir, sine_media("tone.wav", 0.5, {440.0}, {0.5}));
  const auto good = write_session(dir, "good.json", errors_base_session());
  const auto out = dir.out("mix.wav");

  BOOST_TEST_CONTEXT("missing session") {
    const auto missing = dir.file("nope.json");
    expect_failure(dir, {"render", missing, "-o", out}, 66, {missing}, out);
  }
  BOOST_TEST_CONTEXT("invalid JSON") {
    const auto broken = dir.file("broken.json");
    write_text(broken, "{\"format\": \"loophole-session\", \"version\": 1,");
    expect_failure(dir, {"render", broken, "-o", out}, 65, {broken, "JSON"}, out);
  }
  BOOST_TEST_CONTEXT("schema violation") {
    auto doc = errors_base_session();
    doc["tracks"][0]["pan"] = 3;
    const auto bad = write_session(dir, "pan.json", doc);
    expect_failure(dir, {"render", bad, "-o", out}, 65, {bad, "/tracks/0/pan"}, out);
  }
  BOOST_TEST_CONTEXT("missing media") {
    auto doc = errors_base_session();
    doc["tracks"][0]["clips"][0]["media"] = "gone.wav";
    const auto bad = write_session(dir, "gone.json", doc);
    expect_failure(dir, {"render", bad, "-o", out}, 66, {"/tracks/0/clips/0/media", "gone.wav"},
                   out);
  }
  BOOST_TEST_CONTEXT("output exists") {
    const auto existing = dir.out("existing.wav");
    write_text(existing, "the previous mix, not to be lost");
    const auto old = read_bytes(existing);
    const auto r = run_loophole(dir, {"render", good, "-o", existing});
    BOOST_TEST(r.code == 73, r);
    BOOST_TEST(contains(r.err, existing), r.err);
    BOOST_TEST((read_bytes(existing) == old), "the existing file changed");
    BOOST_TEST(dir.out_partials().empty());
    // With --force it is replaced.
    const auto forced = run_loophole(dir, {"render", good, "-o", existing, "--force"});
    BOOST_TEST(forced.code == 0, forced);
    BOOST_TEST((read_bytes(existing) != old));
    fs::remove(existing);
  }
  BOOST_TEST_CONTEXT("output folder missing") {
    const auto nowhere = dir.out("missing-folder/mix.wav");
    expect_failure(dir, {"render", good, "-o", nowhere}, 73, {"missing-folder"}, nowhere);
    BOOST_TEST(!fs::exists(dir.out("missing-folder")));
  }
  BOOST_TEST_CONTEXT("unknown --format") {
    expect_failure(dir, {"render", good, "-o", out, "--format", "xyz"}, 64, {"xyz"}, out);
  }
  BOOST_TEST_CONTEXT("no extension and no --format") {
    const auto bare = dir.out("mix");
    expect_failure(dir, {"render", good, "-o", bare}, 64, {"format"}, bare);
  }
  BOOST_TEST_CONTEXT("--bits 12") {
    expect_failure(dir, {"render", good, "-o", out, "--bits", "12"}, 64, {"12"}, out);
  }
  BOOST_TEST_CONTEXT("--bits 32 with FLAC") {
    const auto flac = dir.out("mix.flac");
    expect_failure(dir, {"render", good, "-o", flac, "--bits", "32"}, 64, {"--bits 32"}, flac);
  }
  BOOST_TEST_CONTEXT("--range 5:2") {
    expect_failure(dir, {"render", good, "-o", out, "--range", "5:2"}, 64, {"--range"}, out);
  }
  BOOST_TEST_CONTEXT("config of the wrong type") {
    const auto cfg = dir.file("bad.toml");
    write_text(cfg, "[render]\nworkers = \"two\"\n");
    expect_failure(dir, {"render", good, "-o", out, "--config", cfg}, 78,
                   {"render.workers", "bad.toml"}, out);
  }
  // And the good session does render, so the failures above are the ones meant.
  const auto r = run_loophole(dir, {"render", good, "-o", out, "--progress", "none"});
  BOOST_TEST(r.code == 0, r);
  BOOST_TEST(fs::exists(out));
}

BOOST_AUTO_TEST_SUITE_END()

// ==========================================================================================

BOOST_AUTO_TEST_SUITE(reports)

BOOST_AUTO_TEST_CASE(dry_run_prints_the_plan_and_writes_nothing) {
  temp_dir dir;
  three_tracks material{dir};
  const auto session = write_session(dir, "plan.json", material.session.to_json());
  const auto out = dir.out("plan.wav");

  const auto text = run_loophole(dir, {"render", session, "-o", out, "--dry-run"});
  BOOST_TEST_REQUIRE(text.code == 0, text);
  BOOST_TEST(contains(text.out, "Render plan: 144000 frames"), text.out);
  for (const char* part : {"'mono'", "'stereo-b'", "'stereo-c'", "'master'", "a220.wav"})
    BOOST_TEST(contains(text.out, part), "the plan lacks " << part << ":\n" << text.out);
  BOOST_TEST(!fs::exists(out));

  const auto js = run_loophole(dir, {"render", session, "-o", out, "--dry-run", "--json"});
  BOOST_TEST_REQUIRE(js.code == 0, js);
  json plan;
  BOOST_REQUIRE_NO_THROW(plan = json::parse(js.out));
  BOOST_TEST_REQUIRE(plan.is_object());
  BOOST_TEST_REQUIRE(plan.contains("nodes"));
  BOOST_TEST_REQUIRE(plan.contains("partitions"));
  BOOST_TEST(plan["nodes"].is_array());
  BOOST_TEST(plan["nodes"].size() >= 4u * 3u);
  BOOST_TEST(plan["partitions"] == json({"mono", "stereo-b", "stereo-c", "master"}),
             plan["partitions"].dump());
  BOOST_TEST(plan.value("frame_count", int64_t{0}) == 144000);
  BOOST_TEST(!fs::exists(out));
  BOOST_TEST(dir.out_listing().empty());
}

BOOST_AUTO_TEST_CASE(json_prints_one_summary_object_after_a_render) {
  temp_dir dir;
  three_tracks material{dir};
  const auto session = write_session(dir, "summary.json", material.session.to_json());
  const auto out = dir.out("summary.wav");
  const auto r = run_loophole(
      dir, {"render", session, "-o", out, "--json", "--bits", "0", "--progress", "none"});
  BOOST_TEST_REQUIRE(r.code == 0, r);
  // exactly one line, one object
  BOOST_TEST(std::count(r.out.begin(), r.out.end(), '\n') == 1, r.out);
  json summary;
  BOOST_REQUIRE_NO_THROW(summary = json::parse(r.out));
  BOOST_TEST_REQUIRE(summary.is_object());
  for (const char* key : {"file", "frames", "peak", "duration_seconds", "time_taken_seconds"})
    BOOST_TEST(summary.contains(key), "no " << key << " in " << r.out);
  BOOST_TEST(summary.value("file", "") == out);
  BOOST_TEST(summary.value("frames", int64_t{0}) == 144000);
  BOOST_TEST(std::abs(summary.value("duration_seconds", 0.0) - 3.0) < 1e-9);
  BOOST_TEST(summary.value("time_taken_seconds", -1.0) > 0.0);
  sound_file f{out};
  BOOST_TEST_REQUIRE(f.file != nullptr);
  double peak = 0;
  for (float x : f.floats())
    peak = std::max(peak, std::abs(static_cast<double>(x)));
  BOOST_TEST(std::abs(summary.value("peak", 0.0) - peak) < 1e-6,
             "summary peak " << summary.value("peak", 0.0) << ", file peak " << peak);
}

BOOST_AUTO_TEST_SUITE_END()

// ==========================================================================================

BOOST_AUTO_TEST_SUITE(configuration)

BOOST_AUTO_TEST_CASE(print_effective_shows_environment_variables) {
  temp_dir dir;
  run_options env;
  env.env = {"LOOPHOLE_RENDER_WORKERS=3"};
  const auto r = run_loophole(dir, {"config", "--print-effective"}, env);
  BOOST_TEST_REQUIRE(r.code == 0, r);
  BOOST_TEST(contains(r.out, "\nworkers = 3"), r.out);
  BOOST_TEST(contains(r.out, "LOOPHOLE_RENDER_WORKERS"), r.out);

  const auto plain = run_loophole(dir, {"config", "--print-effective"});
  BOOST_TEST_REQUIRE(plain.code == 0, plain);
  BOOST_TEST(contains(plain.out, "\nworkers = 0"), plain.out);
}

BOOST_AUTO_TEST_CASE(an_unknown_key_is_a_warning_not_an_error) {
  temp_dir dir;
  const auto cfg = dir.file("extra.toml");
  write_text(cfg, "[render]\nworkers = 2\nfrobnicate = 1\n");
  const auto r = run_loophole(dir, {"config", "--print-effective", "--config", cfg});
  BOOST_TEST(r.code == 0, r);
  BOOST_TEST(contains(r.err, "warning"), r.err);
  BOOST_TEST(contains(r.err, "frobnicate"), r.err);
  BOOST_TEST(contains(r.out, "\nworkers = 2"), r.out);

  // A render with it goes ahead, with the same warning.
  write_media(dir, sine_media("tone.wav", 0.5, {440.0}, {0.5}));
  const auto session = write_session(dir, "s.json", errors_base_session());
  const auto render = run_loophole(
      dir, {"render", session, "-o", dir.out("s.wav"), "--config", cfg, "--progress", "none"});
  BOOST_TEST(render.code == 0, render);
  BOOST_TEST(contains(render.err, "frobnicate"), render.err);
  BOOST_TEST(fs::exists(dir.out("s.wav")));
}

BOOST_AUTO_TEST_SUITE_END()

// ==========================================================================================

BOOST_AUTO_TEST_SUITE(interruption)

BOOST_AUTO_TEST_CASE(sigint_stops_a_render_cleanly_with_exit_130) {
  temp_dir dir;
  // 16 mono tracks, each playing one 120 s file twice: 4 minutes of 16-track mix, which takes
  // this machine most of a second.
  media_file longer = sine_media("long.wav", 120.0, {110.0}, {0.05});
  write_media(dir, longer);
  session_def s;
  for (int t = 0; t < 16; ++t)
    s.tracks.push_back({"t" + std::to_string(t),
                        1,
                        -6.0,
                        -1.0 + t / 7.5,
                        {{&longer, samples(t * 7), 0.0, std::nullopt, std::nullopt},
                         {&longer, seconds(120.0), 0.0, std::nullopt, std::nullopt}}});
  const auto session = write_session(dir, "long.json", s.to_json());

  int interrupted = 0;
  // With --normalize, in either of its two passes too.
  const std::vector<std::pair<int, bool>> cases = {
    {100, false}, {300, false}, {300, true}, {1200, true}};
  for (const auto& [delay, normalised] : cases) {
    BOOST_TEST_CONTEXT("SIGINT after " << delay << " ms" << (normalised ? ", normalised" : "")) {
      const auto out = dir.out("long-" + std::to_string(delay) + (normalised ? "-n" : "") + ".wav");
      run_options o;
      o.signal = SIGINT;
      o.signal_after = std::chrono::milliseconds{delay};
      o.time_limit = std::chrono::seconds{10};
      o.watch_signals = true;
      std::vector<std::string> args{"render", session, "-o", out, "--progress", "none"};
      if (normalised)
        args.insert(args.end(), {"--normalize", "ebu-r128"});
      const auto r = run_loophole(dir, args, o);
      BOOST_TEST_MESSAGE("SIGINT after " << delay << " ms: exit " << r.code << " after "
                                         << r.seconds << " s"
                                         << (r.timed_out ? " (hung, killed)" : ""));
      if (r.code == 0) {
        BOOST_TEST_MESSAGE("the render finished before the interrupt: nothing to check");
        continue;
      }
      ++interrupted;
      // The /proc scan finds Signal instances (so the orphan checks are not vacuous).
      BOOST_TEST(r.signal_children > 0u, "no loophole-signal child of loophole was seen");
      // Regression: an interrupt used to hang loophole, because the orchestrator
      // quit holding the render's response promise, and CAF 0.17 sends nothing
      // for a dropped promise.
      BOOST_TEST(!r.timed_out, "loophole did not stop within 10 s of SIGINT");
      if (!r.timed_out) {
        BOOST_TEST(!r.signaled, "killed by SIGINT instead of stopping: " << r);
        BOOST_TEST(r.code == 130, r);
      }
      BOOST_TEST(!fs::exists(out), out << " exists after an interrupted render");
      BOOST_TEST(dir.out_partials().empty(), "partial files: " << join(dir.out_partials()));
    }
  }
  if (interrupted == 0)
    BOOST_TEST_MESSAGE("no render was interrupted: the machine is faster than this test");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(leftovers_of_killed_runs)

// A loophole killed with SIGKILL cannot remove its runtime folder; the next
// run removes the folders of runs whose process is gone, and only those.
BOOST_AUTO_TEST_CASE(runtime_folders_of_dead_runs_are_removed_and_live_ones_kept) {
  temp_dir dir;
  three_tracks material{dir};
  const auto session = write_session(dir, "leftovers.json", material.session.to_json());
  const auto dead = dir.path() / "run" / "loophole-999999999"; // above any pid_max
  const auto live = dir.path() / "run" / ("loophole-" + std::to_string(getpid()));
  const auto other = dir.path() / "run" / "loophole-notapid";
  for (const auto& p : {dead, live, other})
    fs::create_directory(p);
  const auto r = run_loophole(dir, {"render", session, "-o", dir.out("x.wav"), "--progress",
                                    "none"});
  BOOST_TEST_REQUIRE(r.code == 0, r);
  BOOST_TEST(!fs::exists(dead));
  BOOST_TEST(fs::exists(live));
  BOOST_TEST(fs::exists(other));
}

BOOST_AUTO_TEST_SUITE_END()

// ==========================================================================================

BOOST_AUTO_TEST_SUITE(midi)

namespace {

/// A session of MIDI tracks: each track {"id", "instrument", "clips"} as given; short
/// envelopes so notes with gaps between them leave true silence.
json midi_session(const json& tracks, const json& tempo = {{"bpm", bpm}},
                  const json& grooves = json::object()) {
  return {{"format", "loophole-session"}, {"version", 1}, {"sample_rate", rate},
          {"tempo", tempo},               {"grooves", grooves}, {"tracks", tracks}};
}

json sine_track(const std::string& id, const json& clips) {
  return {{"id", id},
          {"channels", 1},
          {"instrument",
           {{"kind", "sine"}, {"attack", {{"samples", 24}}}, {"release", {{"samples", 48}}}}},
          {"clips", clips}};
}

json notes_at(const std::vector<double>& beats, double length, int first_pitch = 60) {
  json notes = json::array();
  for (size_t i = 0; i < beats.size(); ++i)
    notes.push_back({{"at", {{"beats", beats[i]}}},
                     {"length", {{"beats", length}}},
                     {"pitch", first_pitch + static_cast<int>(i % 12)},
                     {"velocity", 100}});
  return notes;
}

/// The left channel of a float render of `session`.
std::vector<float> render_left(const temp_dir& dir, const std::string& name, const json& session) {
  const auto path = write_session(dir, name + ".json", session);
  const auto r = run_loophole(dir, {"render", path, "-o", dir.out(name + ".wav"), "--bits", "0",
                                    "--progress", "none"});
  BOOST_TEST_REQUIRE(r.code == 0, r);
  sound_file f{dir.out(name + ".wav")};
  BOOST_TEST_REQUIRE(f.file != nullptr);
  const auto all = f.floats();
  std::vector<float> left;
  for (size_t i = 0; i < all.size(); i += 2)
    left.push_back(all[i]);
  return left;
}

/// The first frame at or after `from` that is not silent, or -1.
int64_t first_sound(const std::vector<float>& x, int64_t from) {
  for (auto i = static_cast<size_t>(from); i < x.size(); ++i)
    if (x[i] != 0.0f)
      return static_cast<int64_t>(i);
  return -1;
}

/// Checks that each note starts on its frame: silence from the previous note's end (plus its
/// release) up to it, sound on it.
void expect_onsets(const std::vector<float>& left, const std::vector<int64_t>& ons,
                   const std::vector<int64_t>& ends) {
  int64_t from = 0;
  for (size_t i = 0; i < ons.size(); ++i) {
    BOOST_TEST(first_sound(left, from) == ons[i], "note " << i);
    from = ends[i] + 48;
  }
}

} // namespace

BOOST_AUTO_TEST_CASE(each_note_starts_on_the_frame_of_its_beat_at_120_bpm_and_across_a_tempo_change) {
  temp_dir dir;
  const std::vector<double> beats{0.5, 1.25, 2.0, 3.75, 5.125};
  const json clip{{"position", {{"beats", 1}}}, {"notes", notes_at(beats, 0.25)}};
  const auto tracks = json::array({sine_track("keys", json::array({clip}))});
  // 120 bpm: 24000 frames a beat.
  {
    const auto left = render_left(dir, "steady", midi_session(tracks));
    std::vector<int64_t> ons, ends;
    for (double b : beats) {
      ons.push_back(std::llround((1 + b) * 24000));
      ends.push_back(std::llround((1 + b + 0.25) * 24000));
    }
    BOOST_TEST_REQUIRE(left.size() == static_cast<size_t>(ends.back() + 48));
    expect_onsets(left, ons, ends);
  }
  // 90 bpm from beat 3: seconds(b) = b / 2 before, 1.5 + (b - 3) 60 / 90 after.
  {
    const json tempo{{"bpm", bpm}, {"changes", {{{"beat", 3}, {"bpm", 90}}}}};
    const auto left = render_left(dir, "change", midi_session(tracks, tempo));
    auto frame = [](double b) {
      return std::llround((b < 3 ? b / 2 : 1.5 + (b - 3) * 60.0 / 90.0) * rate);
    };
    std::vector<int64_t> ons, ends;
    for (double b : beats) {
      ons.push_back(frame(1 + b));
      ends.push_back(frame(1 + b + 0.25));
    }
    BOOST_TEST(ons[3] != std::llround((1 + beats[3]) * 24000)); // the change matters
    expect_onsets(left, ons, ends);
  }
}

BOOST_AUTO_TEST_CASE(a_swung_clip_starts_its_off_beat_16ths_exactly_the_swing_offset_later) {
  temp_dir dir;
  std::vector<double> beats;
  for (int s = 0; s < 16; ++s)
    beats.push_back(s * 0.25);
  const json grooves{{"swing60", {{"grid", 0.25}, {"swing", 0.6}}}};
  const json clip{{"position", {{"beats", 0}}}, {"groove", "swing60"},
                  {"notes", notes_at(beats, 0.125)}};
  const auto tracks = json::array({sine_track("keys", json::array({clip}))});
  const auto left = render_left(dir, "swing", midi_session(tracks, {{"bpm", bpm}}, grooves));
  // (0.6 - 0.5) x 2 x 0.25 = 0.05 beat = 1200 frames at 120 bpm; a 16th is 6000 frames.
  std::vector<int64_t> ons, ends;
  for (int s = 0; s < 16; ++s) {
    ons.push_back(s * 6000 + (s % 2 ? 1200 : 0));
    ends.push_back(ons.back() + 3000);
  }
  expect_onsets(left, ons, ends);
}

BOOST_AUTO_TEST_CASE(a_midi_render_is_byte_identical_with_one_and_two_signal_workers) {
  temp_dir dir;
  const json grooves{{"feel", {{"grid", 0.25}, {"swing", 0.57}, {"velocity", {0, -30, 10}}}}};
  json bend_clip{{"position", {{"bar", 2}}},
                 {"notes", notes_at({0, 0.5, 0.75, 1.5, 2, 2.25}, 0.9, 48)},
                 {"pitch_bend", {{{"at", {{"beats", 0.6}}}, {"value", 3000}},
                                 {{"at", {{"beats", 1.7}}}, {"value", -8192}}}},
                 {"cc", {{{"at", {{"beats", 1}}}, {"controller", 7}, {"value", 70}}}}};
  json chords{{"position", {{"beats", 0}}}, {"groove", "feel"},
              {"notes", notes_at({0, 0, 0, 1.25, 1.25, 2.5, 3.0, 3.25, 5.75}, 1.5, 55)}};
  const json tempo{{"bpm", 100}, {"changes", {{{"beat", 4}, {"bpm", 140}, {"ramp", true}}}}};
  const auto path = write_session(
    dir, "det.json",
    midi_session(json::array({sine_track("lead", json::array({bend_clip})),
                               sine_track("pads", json::array({chords}))}), tempo, grooves));
  auto render = [&](const std::string& workers) {
    const auto out = dir.out("w" + workers + ".wav");
    const auto r = run_loophole(dir, {"render", path, "-o", out, "--bits", "24", "--workers",
                                      workers, "--progress", "none"});
    BOOST_TEST_REQUIRE(r.code == 0, r);
    return read_bytes(out);
  };
  const auto one = render("1"), two = render("2");
  BOOST_TEST(one.size() > 48000u * 6u);
  BOOST_TEST((one == two), "--workers 1 and --workers 2 differ");
  sound_file f{dir.out("w1.wav")};
  BOOST_TEST_REQUIRE(f.file != nullptr);
  const auto x = f.floats();
  BOOST_TEST(std::any_of(x.begin(), x.end(), [](float v) { return std::abs(v) > 0.1f; }));
}


// The sampler and synth instruments end to end: the sample shipped whole to Signal with the
// graph, played at its own pitch on the root key and at double speed an octave up; the synth's
// held A4 at 440 Hz. Tracks are mono, so the constant-power pan leaves cos(pi/4) on the left.
BOOST_AUTO_TEST_CASE(sampler_and_synth_instruments_render) {
  temp_dir dir;
  media_file sample;
  sample.name = "sample.wav";
  for (int k = 0; k < 4800; ++k)
    sample.samples.push_back(static_cast<float>(0.8 * std::sin(2 * std::numbers::pi * 300 * k / rate) *
                                                std::exp(-k / 2000.0)));
  write_media(dir, sample);
  const json note_c4{{"at", {{"beats", 0}}}, {"length", {{"beats", 1}}}, {"pitch", 60}, {"velocity", 127}};
  const json note_c5{{"at", {{"beats", 1}}}, {"length", {{"beats", 1}}}, {"pitch", 72}, {"velocity", 127}};
  const json sampler_track{{"id", "sampler"},
                           {"channels", 1},
                           {"instrument", {{"kind", "sampler"}, {"media", "sample.wav"}, {"root_key", 60}}},
                           {"clips", {{{"position", {{"beats", 0}}}, {"notes", {note_c4, note_c5}}}}}};
  const auto left = render_left(dir, "sampler", midi_session(json::array({sampler_track})));
  const double pan = std::cos(std::numbers::pi / 4);
  BOOST_TEST_REQUIRE(left.size() >= 48000u + 2400u);
  double worst = 0;
  for (size_t k = 0; k < 4800; ++k)
    worst = std::max(worst, std::abs(static_cast<double>(left[k]) -
                                     static_cast<double>(sample.samples[k]) * pan));
  for (size_t k = 0; 2 * k < 4800; ++k)
    worst = std::max(worst, std::abs(static_cast<double>(left[24000 + k]) -
                                     static_cast<double>(sample.samples[2 * k]) * pan));
  BOOST_TEST(worst < 1e-6);
  BOOST_TEST(left[23999] == 0.0f);

  const json a4{{"at", {{"beats", 0}}}, {"length", {{"beats", 2}}}, {"pitch", 69}, {"velocity", 127}};
  const json synth_track{{"id", "synth"},
                         {"channels", 1},
                         {"instrument", {{"kind", "synth"}, {"waveform", "sine"}, {"cutoff_hz", 20000},
                                         {"release", {{"samples", 100}}}}},
                         {"clips", {{{"position", {{"beats", 0}}}, {"notes", {a4}}}}}};
  const auto tone = render_left(dir, "synth", midi_session(json::array({synth_track})));
  BOOST_TEST_REQUIRE(tone.size() >= 48000u);
  BOOST_TEST(tone[0] != 0.0f);
  double first = -1, last = -1;
  int crossings = 0;
  for (size_t n = 1000; n < 47000; ++n)
    if (tone[n - 1] < 0 && tone[n] >= 0) {
      const double a = tone[n - 1], b = tone[n];
      const double t = static_cast<double>(n - 1) + a / (a - b);
      if (first < 0)
        first = t;
      last = t;
      ++crossings;
    }
  const double hz = (crossings - 1) / (last - first) * rate;
  BOOST_TEST(std::abs(1200 * std::log2(hz / 440.0)) < 0.01, hz << " Hz");
}

BOOST_AUTO_TEST_CASE(oversample_takes_one_two_four_or_eight) {
  temp_dir dir;
  const json a4{{"at", {{"beats", 0}}}, {"length", {{"beats", 1}}}, {"pitch", 69}, {"velocity", 127}};
  const auto path = write_session(
    dir, "s.json", midi_session(json::array({sine_track("keys", {{{"position", {{"beats", 0}}},
                                                                  {"notes", {a4}}}})})));
  const auto bad = run_loophole(dir, {"render", path, "-o", dir.out("bad.wav"), "--oversample",
                                      "3", "--progress", "none"});
  BOOST_TEST(bad.code != 0);
  BOOST_TEST(bad.err.find("--oversample 3: the factor must be 1, 2, 4 or 8") != std::string::npos,
             bad.err);
  const auto good = run_loophole(dir, {"render", path, "-o", dir.out("good.wav"), "--oversample",
                                       "4", "--progress", "none"});
  BOOST_TEST(good.code == 0, good);
}

BOOST_AUTO_TEST_SUITE_END()

// -- routing: buses, sends, sidechains, plugin delay compensation ---------------------------------

BOOST_AUTO_TEST_SUITE(routing)

namespace {

/// A session with one mono track playing 1 s of DC 0.5 (the media written to `dir`).
json dc_session(const temp_dir& dir) {
  const auto dc = dc_media("dc.wav", rate, 0.5f);
  write_media(dir, dc);
  session_def s;
  s.tracks = {track_def{"x", 1, 0.0, 0.0, {{&dc, seconds(0), 0.0, std::nullopt, std::nullopt}}}};
  return s.to_json();
}

const double centre = std::cos(std::numbers::pi / 4); // a centred pan, mono or stereo

double db(double x) {
  return std::pow(10.0, x / 20.0);
}

void expect_constant(const std::vector<float>& got, double want, const std::string& what) {
  BOOST_TEST_REQUIRE(got.size() == static_cast<size_t>(rate * 2), what);
  for (size_t i = 0; i < got.size(); ++i)
    BOOST_TEST_REQUIRE(std::abs(static_cast<double>(got[i]) - want) <= 3e-7 * want,
                       what << ": sample " << i << " is " << got[i] << ", not " << want);
}

} // namespace

// Only the send reaches the master (the track's own output goes to a muted bus): moving the
// fader from 0 to -12 dB scales a post-fader send by exactly 10^(-12/20) and leaves a pre-fader
// one as it was, both against the analytic level of the return.
BOOST_AUTO_TEST_CASE(a_fader_move_changes_a_post_fader_send_and_not_a_pre_fader_one) {
  temp_dir dir;
  auto doc = dc_session(dir);
  doc["buses"] = json::array({{{"id", "off"}, {"mute", true}}, {{"id", "ret"}}});
  doc["tracks"][0]["output"] = "off";
  auto render = [&](bool pre, double fader, const std::string& name) {
    doc["tracks"][0]["gain_db"] = fader;
    doc["tracks"][0]["sends"] = json::array({{{"to", "ret"}, {"gain_db", -6.0}, {"pre_fader", pre}}});
    return render_float(dir, doc, name);
  };
  // post-fader: track pan (mono, centred), send gain, the return's pan (stereo, centred)
  const double post_level = 0.5 * centre * db(-6.0) * centre;
  expect_constant(render(false, 0.0, "post0"), post_level, "post-fader, fader at 0 dB");
  expect_constant(render(false, -12.0, "post12"), post_level * db(-12.0),
                  "post-fader, fader at -12 dB");
  // pre-fader: mono into the stereo return through a centred pan
  const double pre_level = 0.5 * db(-6.0) * centre * centre;
  const auto pre0 = render(true, 0.0, "pre0");
  expect_constant(pre0, pre_level, "pre-fader, fader at 0 dB");
  BOOST_TEST((render(true, -12.0, "pre12") == pre0), "a pre-fader send followed the fader");
}

// A track straight to the master plus a post-fader send to a return with a gain insert: the
// render is the sum of both paths, computed here.
BOOST_AUTO_TEST_CASE(a_return_bus_with_a_gain_insert_nulls_against_the_analytic_sum) {
  temp_dir dir;
  auto doc = dc_session(dir);
  doc["buses"] = json::array(
    {{{"id", "ret"}, {"kind", "return"}, {"inserts", json::array({{{"kind", "gain"}, {"gain_db", -3.0}}})}}});
  doc["tracks"][0]["sends"] = json::array({{{"to", "ret"}, {"gain_db", -6.0}}});
  const double direct = 0.5 * centre;
  expect_constant(render_float(dir, doc, "ret"), direct + direct * db(-6.0) * db(-3.0) * centre,
                  "track plus return");
}

// Two tracks into a group bus with its own fader: (a + b) times the group's gain and pan.
BOOST_AUTO_TEST_CASE(a_group_bus_sums_its_tracks_then_applies_its_fader) {
  temp_dir dir;
  auto doc = dc_session(dir);
  doc["tracks"].push_back(doc["tracks"][0]);
  doc["tracks"][1]["id"] = "y";
  doc["tracks"][1]["gain_db"] = -6.0;
  for (auto& t : doc["tracks"])
    t["output"] = "grp";
  doc["buses"] = json::array({{{"id", "grp"}, {"kind", "group"}, {"gain_db", -2.0}}});
  expect_constant(render_float(dir, doc, "grp"),
                  (0.5 * centre + 0.5 * db(-6.0) * centre) * db(-2.0) * centre, "group");
}

// Plugin delay compensation: a compressor that only delays (threshold above the signal, 5 ms
// lookahead) on one of two parallel paths, in a track and in a return fed by a send, and keyed
// by a sidechain; the render nulls against the twin without the compressors to -120 dB and keeps
// its length.
BOOST_AUTO_TEST_CASE(a_latent_path_nulls_against_its_twin_without_it) {
  temp_dir dir;
  const auto tone = sine_media("tone.wav", 1.0, {440.0}, {0.25});
  write_media(dir, tone);
  session_def s;
  s.tracks = {track_def{"x", 1, 0.0, 0.0, {{&tone, seconds(0), 0.0, std::nullopt, std::nullopt}}},
              track_def{"y", 1, -3.0, 0.3, {{&tone, seconds(0), 0.0, std::nullopt, std::nullopt}}}};
  auto twin = s.to_json();
  const json comp{{"kind", "compressor"}, {"threshold_db", 0.0}, {"lookahead", {{"seconds", 0.005}}}};
  auto latent = [&](bool with) {
    auto doc = twin;
    auto path = with ? comp : json{{"kind", "meter"}};
    path["id"] = "a";
    path["inputs"] = {"clips"};
    doc["tracks"][0]["inserts"] = json::array(
      {path, {{"kind", "meter"}, {"id", "b"}, {"inputs", {"clips"}}}, {{"kind", "gain"}, {"inputs", {"a", "b"}}}});
    doc["tracks"][0]["sends"] = json::array({{{"to", "ret"}, {"gain_db", -6.0}}});
    auto key = with ? comp : json{{"kind", "meter"}};
    if (with)
      key["sidechain"] = "x";
    doc["tracks"][1]["inserts"] = json::array({key});
    doc["buses"] = json::array({{{"id", "ret"}, {"inserts", json::array({with ? comp : json{{"kind", "meter"}}})}}});
    return doc;
  };
  const auto plain = render_float(dir, latent(false), "plain");
  const auto compensated = render_float(dir, latent(true), "pdc");
  BOOST_TEST_REQUIRE(compensated.size() == plain.size());
  double worst = 0;
  for (size_t i = 0; i < plain.size(); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(compensated[i]) - static_cast<double>(plain[i])));
  BOOST_TEST(worst < 1e-6, "the compensated render differs by " << worst);
}

// Buses, sends (pre and post), a group, delays, a sidechained lookahead compressor (latency)
// and its compensation: the same bytes whatever the worker count.
BOOST_AUTO_TEST_CASE(routed_renders_are_byte_identical_across_worker_counts) {
  temp_dir dir;
  three_tracks material{dir};
  const auto session = write_session(dir, "routed.json", routed_session(material));
  auto render = [&](const std::string& name, const std::string& workers) {
    const auto r = run_loophole(dir, {"render", session, "-o", dir.out(name), "--progress", "none",
                                      "--bits", "24", "--workers", workers});
    BOOST_TEST_REQUIRE(r.code == 0, r);
    return read_bytes(dir.out(name));
  };
  const auto w1 = render("w1.wav", "1");
  BOOST_TEST(w1.size() > 144000u * 6u);
  BOOST_TEST((render("w2.wav", "2") == w1), "--workers 2 differs");
  BOOST_TEST((render("w4.wav", "4") == w1), "--workers 4 differs");
}

// Refused sessions: a non-zero exit, the JSON path and the reason, nothing in the output's place.
BOOST_AUTO_TEST_CASE(routing_errors_exit_non_zero_naming_the_path_and_write_nothing) {
  temp_dir dir;
  const auto base = dc_session(dir);
  struct bad_case {
    std::string name;
    std::function<void(json&)> edit;
    std::string says;
  };
  const std::vector<bad_case> cases{
    {"cycle",
     [](json& d) {
       d["buses"] = json::array({{{"id", "p"}, {"output", "q"}}, {{"id", "q"}, {"output", "p"}}});
     },
     "/buses/1/output: closes a routing cycle (p -> q -> p)"},
    {"unknown",
     [](json& d) { d["tracks"][0]["sends"] = json::array({{{"to", "nowhere"}}}); },
     "/tracks/0/sends/0/to: \"nowhere\" is not the id of a bus"},
    {"insert-id",
     [](json& d) { d["tracks"][0]["inserts"] = json::array({{{"kind", "meter"}, {"inputs", {"ghost"}}}}); },
     "/tracks/0/inserts/0/inputs/0: \"ghost\" is neither \"clips\" nor the id"},
    {"value",
     [](json& d) { d["tracks"][0]["inserts"] = json::array({{{"kind", "compressor"}, {"ratio", 0}}}); },
     "/tracks/0/inserts/0/ratio: 0 is below the minimum 1"},
  };
  for (const auto& c : cases) {
    auto doc = base;
    c.edit(doc);
    const auto session = write_session(dir, c.name + ".json", doc);
    const auto out = dir.out(c.name + ".wav");
    const auto r = run_loophole(dir, {"render", session, "-o", out, "--progress", "none"});
    BOOST_TEST(r.code != 0, c.name);
    BOOST_TEST(contains(r.err, c.says), c.name << ": " << r.err);
    BOOST_TEST(!std::filesystem::exists(out), c.name);
  }
}

// A 5.1 master: the file has six channels and the 5.1 channel mask.
BOOST_AUTO_TEST_CASE(a_surround_master_writes_its_channel_count_and_mask) {
  temp_dir dir;
  auto doc = dc_session(dir);
  doc["master"]["channels"] = 6;
  const auto session = write_session(dir, "six.json", doc);
  const auto out = dir.out("six.wav");
  const auto r = run_loophole(dir, {"render", session, "-o", out, "--progress", "none"});
  BOOST_TEST_REQUIRE(r.code == 0, r);
  if (have("soxi"))
    BOOST_TEST(shell("soxi -c '" + out + "'").second.find("6") == 0u);
  if (have("ffprobe"))
    BOOST_TEST(contains(shell("ffprobe -v error -show_entries stream=channel_layout -of csv=p=0 '" +
                              out + "'").second, "5.1"));
}

// A meter insert on the master measures what the file gets: a 997 Hz sine of amplitude a in
// both channels reads 20 log10(a) LUFS (ITU-R BS.1770: 0 dBFS in one channel is -3.01 LKFS, a
// second equal channel adds 3.01 dB), its sample peak 20 log10(a), its RMS 20 log10(a / sqrt 2).
BOOST_AUTO_TEST_CASE(a_meter_insert_reads_the_analytic_loudness_of_a_sine) {
  temp_dir dir;
  const auto tone = sine_media("tone997.wav", 4.0, {997.0, 997.0}, {0.5, 0.5});
  write_media(dir, tone);
  const auto session = write_session(
    dir, "meter.json",
    single_clip_session("tone997.wav", {},
                        {{"gain_db", 0.0},
                         {"inserts", json::array({{{"kind", "meter"}, {"id", "m"}}})}}));
  const auto r = run_loophole(dir, {"render", session, "-o", dir.out("meter.wav"), "--bits", "0",
                                    "--progress", "none", "--json"});
  BOOST_TEST_REQUIRE(r.code == 0, r);
  const auto summary = json::parse(r.out);
  BOOST_TEST_REQUIRE(summary["meters"].size() == 1u, r.out);
  const auto& m = summary["meters"][0];
  // The track's centred constant-power pan: each channel at a = 0.5 cos(pi / 4).
  const double a = 0.5 * std::cos(std::numbers::pi / 4.0);
  const double level = 20.0 * std::log10(a);
  BOOST_TEST(std::abs(m["integrated_lufs"].get<double>() - level) < 0.1, r.out);
  BOOST_TEST(std::abs(m["sample_peak_dbfs"].get<double>() - level) < 0.05, r.out);
  BOOST_TEST(std::abs(m["true_peak_dbtp"].get<double>() - level) < 0.05, r.out);
  BOOST_TEST(std::abs(m["rms_dbfs"].get<double>() - (level - 10.0 * std::log10(2.0))) < 0.01,
             r.out);
  BOOST_TEST(m["range_lu"].get<double>() < 0.1, r.out);
  BOOST_TEST(m["frames"].get<int64_t>() == 4 * static_cast<int64_t>(rate), r.out);
}

BOOST_AUTO_TEST_SUITE_END()

// ==========================================================================================

// Loudness normalisation in two passes, checked on the written files with libebur128 run here.
BOOST_AUTO_TEST_SUITE(loudness_normalisation)

namespace {

/// Integrated loudness and true peak of a written file, measured here with libebur128 on what
/// libsndfile reads back: not through the engine's meter.
struct file_loudness {
  double lufs = 0, true_peak_dbtp = 0;
};

file_loudness measure_file(const std::string& path) {
  loophole::test::sound_file f{path};
  BOOST_TEST_REQUIRE(f.file != nullptr, path);
  const auto samples = f.floats();
  const auto channels = static_cast<unsigned>(f.info.channels);
  ebur128_state* st = ebur128_init(channels, static_cast<unsigned long>(f.info.samplerate),
                                   EBUR128_MODE_I | EBUR128_MODE_TRUE_PEAK);
  BOOST_TEST_REQUIRE(st != nullptr);
  ebur128_add_frames_float(st, samples.data(), samples.size() / channels);
  file_loudness r;
  ebur128_loudness_global(st, &r.lufs);
  double peak = 0;
  for (unsigned c = 0; c < channels; ++c) {
    double p = 0;
    ebur128_true_peak(st, c, &p);
    peak = std::max(peak, p);
  }
  r.true_peak_dbtp = 20.0 * std::log10(peak);
  ebur128_destroy(&st);
  return r;
}

/// A quiet tone (-20 dBFS) with a 5 ms burst (-1 dBFS) each second: the bursts hardly move
/// the loudness and set the true peak, so a loud target meets the true-peak ceiling first.
std::string bursty_session(const temp_dir& dir, const std::string& name) {
  media_file m = sine_media("bursty.wav", 6.0, {997.0}, {1.0});
  for (int64_t i = 0; i < m.frames(); ++i)
    m.samples[static_cast<size_t>(i)] *= (i % rate) < rate / 200 ? 0.9f : 0.1f;
  write_media(dir, m);
  return write_session(dir, name, single_clip_session("bursty.wav", 1));
}

} // namespace

BOOST_AUTO_TEST_CASE(normalised_renders_measure_within_0_1_lu_of_the_target_under_the_ceiling) {
  temp_dir dir;
  const auto tone = sine_media("tone.wav", 5.0, {997.0, 440.0}, {0.05, 0.03});
  write_media(dir, tone);
  const auto session = write_session(dir, "quiet.json", single_clip_session("tone.wav"));
  struct target_case {
    std::string arg;
    double lufs, ceiling;
    std::string bits;
  } cases[] = {{"ebu-r128", -23.0, -1.0, "24"},
               {"streaming", -14.0, -1.0, "16"},
               {"atsc-a85", -24.0, -2.0, "0"},
               {"-18.5", -18.5, -1.0, "24"}};
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("--normalize " << c.arg << ", --bits " << c.bits) {
      const auto out = dir.out("norm" + c.arg + ".wav");
      const auto r = run_loophole(dir, {"render", session, "-o", out, "--bits", c.bits,
                                        "--normalize", c.arg, "--progress", "none", "--json"});
      BOOST_TEST_REQUIRE(r.code == 0, r);
      const auto n = json::parse(r.out).at("normalization");
      BOOST_TEST(!n.at("limited_by_ceiling").get<bool>(), r.out);
      const auto measured = measure_file(out);
      BOOST_TEST(std::abs(measured.lufs - c.lufs) < 0.1, "file measures " << measured.lufs);
      BOOST_TEST(measured.true_peak_dbtp <= c.ceiling, "true peak " << measured.true_peak_dbtp);
      // The engine's own reading of the second pass agrees with the file's.
      BOOST_TEST(std::abs(n.at("output_lufs").get<double>() - measured.lufs) < 0.05, r.out);
      // The gain is the distance from the first pass's reading to the target.
      BOOST_TEST(std::abs(n.at("gain_db").get<double>() -
                          (c.lufs - n.at("measured_lufs").get<double>())) < 1e-9, r.out);
      BOOST_TEST(json::parse(r.out).at("meters").empty(), "the normalisation's meter is not listed");
    }
  }
}

BOOST_AUTO_TEST_CASE(a_true_peak_ceiling_holds_the_gain_and_says_so) {
  temp_dir dir;
  const auto session = bursty_session(dir, "bursty.json");
  for (const std::string ceiling : {"-1", "-6"}) {
    BOOST_TEST_CONTEXT("ceiling " << ceiling) {
      const auto out = dir.out("bursty" + ceiling + ".wav");
      const auto r = run_loophole(dir, {"render", session, "-o", out, "--normalize", "streaming",
                                        "--true-peak-ceiling", ceiling, "--progress", "none",
                                        "--json"});
      BOOST_TEST_REQUIRE(r.code == 0, r);
      const auto n = json::parse(r.out).at("normalization");
      BOOST_TEST(n.at("limited_by_ceiling").get<bool>(), r.out);
      BOOST_TEST(contains(r.err, "true-peak ceiling"), r.err);
      const auto measured = measure_file(out);
      const double limit = std::stod(ceiling);
      BOOST_TEST(measured.true_peak_dbtp <= limit, "true peak " << measured.true_peak_dbtp);
      BOOST_TEST(measured.true_peak_dbtp > limit - 0.1, "true peak " << measured.true_peak_dbtp);
      BOOST_TEST(measured.lufs < -14.0 - 1.0, "file measures " << measured.lufs);
    }
  }
}

BOOST_AUTO_TEST_CASE(normalised_renders_are_byte_identical_across_worker_counts) {
  temp_dir dir;
  const auto session = bursty_session(dir, "bursty.json");
  std::vector<std::vector<int32_t>> outputs;
  for (const std::string workers : {"1", "2", "3"}) {
    const auto out = dir.out("w" + workers + ".wav");
    const auto r = run_loophole(dir, {"render", session, "-o", out, "--normalize", "-20",
                                      "--workers", workers, "--progress", "none"});
    BOOST_TEST_REQUIRE(r.code == 0, r);
    BOOST_TEST(contains(r.out, "Normalised to -20.0 LUFS"), r.out);
    loophole::test::sound_file f{out};
    outputs.push_back(f.ints());
  }
  BOOST_TEST(outputs[0] == outputs[1]);
  BOOST_TEST(outputs[0] == outputs[2]);
}

BOOST_AUTO_TEST_CASE(bad_normalisation_arguments_exit_64_naming_the_option_and_write_nothing) {
  temp_dir dir;
  const auto session = bursty_session(dir, "bursty.json");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
    {{"--normalize", "loud"}, "--normalize: 'loud' is neither a preset"},
    {{"--normalize", "5"}, "--normalize: 5 LUFS is outside [-70, 0]"},
    {{"--normalize", "-23x"}, "--normalize: '-23x'"},
    {{"--true-peak-ceiling", "-2"}, "--true-peak-ceiling needs --normalize"},
    {{"--normalize", "ebu-r128", "--true-peak-ceiling", "3"}, "--true-peak-ceiling: 3"},
  };
  for (const auto& [extra, message] : cases) {
    BOOST_TEST_CONTEXT(join(extra)) {
      std::vector<std::string> args{"render", session, "-o", dir.out("bad.wav"), "--progress",
                                    "none"};
      args.insert(args.end(), extra.begin(), extra.end());
      const auto r = run_loophole(dir, args);
      BOOST_TEST(r.code == 64, r);
      BOOST_TEST(contains(r.err, message), r.err);
      BOOST_TEST(!fs::exists(dir.out("bad.wav")));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_very_quiet_mix_gets_the_largest_gain_there_is_and_a_note) {
  temp_dir dir;
  write_media(dir, sine_media("faint.wav", 3.0, {997.0}, {0.0008})); // -62 dBFS
  const auto session = write_session(dir, "faint.json", single_clip_session("faint.wav", 1));
  const auto r = run_loophole(dir, {"render", session, "-o", dir.out("faint.wav"), "--normalize",
                                    "0", "--bits", "0", "--progress", "none", "--json"});
  BOOST_TEST_REQUIRE(r.code == 0, r);
  const auto n = json::parse(r.out).at("normalization");
  BOOST_TEST(n.at("gain_db").get<double>() == 60.0, r.out);
  BOOST_TEST(contains(r.err, "the gain stops at +60 dB"), r.err);
  const auto measured = measure_file(dir.out("faint.wav"));
  BOOST_TEST(std::abs(measured.lufs - (n.at("measured_lufs").get<double>() + 60.0)) < 0.1);
}

BOOST_AUTO_TEST_CASE(a_silent_mix_is_rendered_without_gain_and_a_note) {
  temp_dir dir;
  write_media(dir, dc_media("silence.wav", rate, 0.0f));
  const auto session = write_session(dir, "silent.json", single_clip_session("silence.wav", 1));
  const auto r = run_loophole(dir, {"render", session, "-o", dir.out("silent.wav"), "--normalize",
                                    "ebu-r128", "--progress", "none", "--json"});
  BOOST_TEST_REQUIRE(r.code == 0, r);
  const auto n = json::parse(r.out).at("normalization");
  BOOST_TEST(n.at("gain_db").get<double>() == 0.0);
  BOOST_TEST(n.at("measured_lufs").is_null(), r.out);
  BOOST_TEST(contains(r.err, "the mix is silent"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()

// ==========================================================================================

BOOST_AUTO_TEST_SUITE(precision)

namespace {

json mono_track(const std::string& id, const std::string& media, const std::string& output) {
  return {{"id", id},
          {"channels", 1},
          {"output", output},
          {"clips", json::array({{{"media", media}, {"position", {{"seconds", 0}}}}})}};
}

} // namespace

// A signal 160 dB under another survives a bus only in double: bus "sum" carries big + tiny,
// bus "inverse" carries -big through the same gains, and the master's sum of the two is tiny
// alone. In float the bus's output is rounded to 24 bits of big (about 3e-8), which buries
// tiny (5e-9 after the pans); in double the residual is the double rounding of the sum, 1e-16.
BOOST_AUTO_TEST_CASE(a_signal_160_db_under_another_survives_a_bus_only_in_double) {
  temp_dir dir;
  const auto big = sine_media("big.wav", 0.5, {1000.0}, {0.5});
  const auto tiny = sine_media("tiny.wav", 0.5, {440.0}, {1e-8});
  write_media(dir, big);
  write_media(dir, tiny);
  json doc{{"format", "loophole-session"},
           {"version", 1},
           {"sample_rate", rate},
           {"buses", json::array({{{"id", "sum"}}, {{"id", "inverse"}}})},
           {"tracks", json::array({mono_track("big", "big.wav", "sum"),
                                   mono_track("tiny", "tiny.wav", "sum"),
                                   mono_track("minus-big", "big.wav", "inverse")})}};
  doc["tracks"][2]["inserts"] = json::array({{{"kind", "polarity"}}});
  const auto session = write_session(dir, "small.json", doc);
  // Each path is panned twice at the centre (the track's pan of its mono clip, then the
  // stereo bus's): left times cos^2(pi/4), right times sin^2(pi/4).
  const double left = std::cos(std::numbers::pi / 4) * std::cos(std::numbers::pi / 4);
  const double right = std::sin(std::numbers::pi / 4) * std::sin(std::numbers::pi / 4);
  auto residual = [&](const std::string& precision) {
    const auto out = dir.out(precision + ".wav");
    const auto r = run_loophole(dir, {"render", session, "-o", out, "--bits", "0", "--precision",
                                      precision, "--progress", "none"});
    BOOST_TEST_REQUIRE(r.code == 0, r);
    const auto got = sound_file{out}.floats();
    BOOST_TEST_REQUIRE(got.size() == static_cast<size_t>(tiny.frames()) * 2u);
    double worst = 0, peak = 0;
    for (size_t i = 0; i < tiny.samples.size(); ++i) {
      const double t = tiny.samples[i];
      worst = std::max({worst, std::abs(static_cast<double>(got[2 * i]) - t * left),
                        std::abs(static_cast<double>(got[2 * i + 1]) - t * right)});
      peak = std::max(peak, std::abs(static_cast<double>(got[2 * i])));
    }
    BOOST_TEST_MESSAGE(precision << ": residual " << worst << " against tiny, peak " << peak);
    return worst;
  };
  // Double: the file's float rounding of 5e-9 (half an ulp: 2.2e-16) plus the double sum's
  // rounding of big (0.25 x 2^-53: 3e-17 a sum).
  BOOST_TEST(residual("double") < 5e-16);
  // Float cannot: the test tells the two apart.
  BOOST_TEST(residual("float") > 1e-9);
}

// The routed session (buses, sends, a delay, a sidechained lookahead compressor) with an eq and
// a meter, in double: byte-identical across worker counts, the plan and the
// summary say double, the meter reads the double bus, and it agrees with the float render to
// float precision without being the same bytes.
BOOST_AUTO_TEST_CASE(double_renders_are_byte_identical_across_worker_counts_and_near_float) {
  temp_dir dir;
  three_tracks material{dir};
  auto doc = routed_session(material);
  const json eq{{"kind", "eq"},
                {"bands", json::array({{{"type", "peak"}, {"freq", 600}, {"gain_db", 4}}})}};
  doc["tracks"][2]["inserts"].insert(doc["tracks"][2]["inserts"].begin(), eq);
  doc["master"]["inserts"] = json::array({{{"kind", "meter"}, {"id", "m"}}});
  const auto session = write_session(dir, "double.json", doc);
  auto render = [&](const std::string& name, const std::string& precision,
                    const std::string& workers) {
    const auto r = run_loophole(dir, {"render", session, "-o", dir.out(name), "--progress", "none",
                                      "--bits", "0", "--precision", precision, "--workers",
                                      workers, "--json"});
    BOOST_TEST_REQUIRE(r.code == 0, r);
    const auto summary = json::parse(r.out);
    BOOST_TEST(summary.value("precision", "") == precision, r.out);
    BOOST_TEST_REQUIRE(summary["meters"].size() == 1u, r.out);
    BOOST_TEST(summary["meters"][0]["frames"].get<int64_t>() == 144000, r.out);
    return read_bytes(dir.out(name));
  };
  const auto w1 = render("w1.wav", "double", "1");
  BOOST_TEST(w1.size() > 144000u * 8u);
  BOOST_TEST((render("w2.wav", "double", "2") == w1), "--workers 2 differs");
  BOOST_TEST((render("w4.wav", "double", "4") == w1), "--workers 4 differs");
  BOOST_TEST((render("float.wav", "float", "2") != w1), "double gave the float render's bytes");
  const auto d = sound_file{dir.out("w1.wav")}.floats();
  const auto f = sound_file{dir.out("float.wav")}.floats();
  BOOST_TEST_REQUIRE(d.size() == f.size());
  double worst = 0, peak = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(d[i]) - static_cast<double>(f[i])));
    peak = std::max(peak, std::abs(static_cast<double>(d[i])));
  }
  BOOST_TEST(peak > 0.1);
  BOOST_TEST(worst < 1e-5, "double and float renders differ by " << worst);

  const auto plan = run_loophole(dir, {"render", session, "-o", dir.out("plan.wav"), "--dry-run",
                                       "--json", "--precision", "double"});
  BOOST_TEST_REQUIRE(plan.code == 0, plan);
  BOOST_TEST(json::parse(plan.out).value("precision", "") == "double", plan.out);
  const auto bad = run_loophole(dir, {"render", session, "-o", dir.out("bad.wav"),
                                      "--precision", "quad"});
  BOOST_TEST(bad.code == 64, bad);
  BOOST_TEST(contains(bad.err, "--precision: \"quad\" is not float or double"), bad.err);
  BOOST_TEST(!std::filesystem::exists(dir.out("bad.wav")));
}

BOOST_AUTO_TEST_SUITE_END()
