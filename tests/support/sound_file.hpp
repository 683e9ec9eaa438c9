#pragma once

// Reading back a written audio file with libsndfile itself, not through the
// code under test.

#include <sndfile.h>

#include <cstdint>
#include <string>
#include <vector>

namespace loophole::test {

struct sound_file {
  SF_INFO info{};
  SNDFILE* file = nullptr; ///< Null if the file did not open.

  explicit sound_file(const std::string& path) { file = sf_open(path.c_str(), SFM_READ, &info); }
  ~sound_file() {
    if (file)
      sf_close(file);
  }
  sound_file(const sound_file&) = delete;
  sound_file& operator=(const sound_file&) = delete;

  /// Every sample, interleaved, as libsndfile converts it to float.
  std::vector<float> floats() { return read<float>(sf_readf_float); }

  /// Every sample, interleaved, left-aligned in 32 bits.
  std::vector<int32_t> ints() { return read<int32_t>(sf_readf_int); }

  /// A string tag (SF_STR_TITLE, ...), or "".
  std::string tag(int id) const {
    const char* s = sf_get_string(file, id);
    return s ? s : "";
  }

private:
  template <class T, class Reader> std::vector<T> read(Reader reader) {
    std::vector<T> v(static_cast<size_t>(info.frames) * static_cast<size_t>(info.channels));
    const auto got = reader(file, v.data(), info.frames);
    v.resize(static_cast<size_t>(got) * static_cast<size_t>(info.channels));
    return v;
  }
};

} // namespace loophole::test
