// Times the timeline resolver on a generated 64-track session
// (tests/support/large_session.hpp): a full resolve with a cold cache, a
// resolve after an edit of one clip of one track, and one with nothing
// changed, each the median of many runs. Prints one line:
//   resolve full_ms=... one_clip_edit_ms=... unchanged_ms=... edit/full=...
// Usage: resolve_bench [RUNS] (default 200).

#include "actors/timeline_resolver.hpp"
#include "kernel/error.hpp"
#include "tests/support/large_session.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using loophole::actors::resolve_cache;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Milliseconds of one resolve through `cache`; exits if it fails.
double timed(const loophole::test::large_session& s, resolve_cache& cache) {
  const auto start = std::chrono::steady_clock::now();
  auto plan = loophole::actors::resolve_timeline(s.doc, {}, s.media, cache);
  const auto end = std::chrono::steady_clock::now();
  if (!plan) {
    std::fprintf(stderr, "resolve_bench: %s\n", loophole::kernel::describe(plan.error()).c_str());
    std::exit(1);
  }
  return std::chrono::duration<double, std::milli>(end - start).count();
}

} // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 200;
  if (runs < 1) {
    std::fprintf(stderr, "usage: resolve_bench [RUNS]\n");
    return 2;
  }
  auto s = loophole::test::make_large_session(64, 50);
  std::vector<double> full, edit, unchanged;
  for (int i = 0; i < runs; ++i) {
    resolve_cache cache;
    full.push_back(timed(s, cache));
    // The value alternates, so each run's edit changes what its full resolve saw.
    s.doc.tracks[17].clips[23].gain_db = i % 2 ? -1.0 : -2.0;
    edit.push_back(timed(s, cache));
    unchanged.push_back(timed(s, cache));
  }
  const double f = median(full), e = median(edit), u = median(unchanged);
  std::printf("resolve full_ms=%.3f one_clip_edit_ms=%.3f unchanged_ms=%.3f edit/full=%.3f\n", f, e,
              u, e / f);
  return 0;
}
