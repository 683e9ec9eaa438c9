#include "media/media_reader.hpp"

#include <fcntl.h>
#include <sndfile.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <samplerate.h>
#include <xxhash.h>

#include <algorithm>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "media/media_error.hpp"

namespace loophole::media {

namespace {

SNDFILE* open_for_reading(const std::string& path, SF_INFO& info) {
  info = SF_INFO{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (f)
    return f;
  if (access(path.c_str(), R_OK) != 0)
    throw media_error(failure::not_found, path + ": " + std::strerror(errno));
  throw media_error(failure::unreadable, path + ": " + sf_strerror(nullptr));
}

void check_shape(const std::string& path, const SF_INFO& info) {
  if (info.channels < 1 || info.channels > 32)
    throw media_error(failure::unreadable,
                      path + ": " + std::to_string(info.channels) + " channels (1 to 32 supported)");
  if (info.samplerate < 1000 || info.samplerate > 768000)
    throw media_error(failure::unreadable,
                      path + ": sample rate " + std::to_string(info.samplerate) + " Hz");
  if (info.frames < 0 || info.frames > (int64_t{1} << 40))
    throw media_error(failure::unreadable, path + ": implausible length");
}

std::string format_name(const SF_INFO& info) {
  SF_FORMAT_INFO major{info.format & SF_FORMAT_TYPEMASK, nullptr, nullptr};
  SF_FORMAT_INFO minor{info.format & SF_FORMAT_SUBMASK, nullptr, nullptr};
  std::string name;
  if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &major, sizeof major) == 0 && major.name)
    name = major.name;
  if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &minor, sizeof minor) == 0 && minor.name)
    name += std::string{" / "} + minor.name;
  return name;
}

} // namespace

std::string content_hash(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw media_error(failure::not_found, path + ": " + std::strerror(errno));
  struct stat st {};
  fstat(fd, &st);
  XXH128_hash_t h{};
  if (st.st_size == 0) {
    h = XXH3_128bits(nullptr, 0);
  } else {
    auto size = static_cast<size_t>(st.st_size);
    void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED) {
      close(fd);
      throw media_error(failure::unreadable, path + ": " + std::strerror(errno));
    }
    madvise(p, size, MADV_SEQUENTIAL);
    h = XXH3_128bits(p, size);
    munmap(p, size);
  }
  close(fd);
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return hex;
}

media_probe probe(const std::string& path, const std::string& known_id) {
  SF_INFO info;
  SNDFILE* f = open_for_reading(path, info);
  sf_close(f);
  check_shape(path, info);
  media_probe p;
  p.path = path;
  p.format = format_name(info);
  p.channels = static_cast<uint16_t>(info.channels);
  p.frames = info.frames;
  p.sample_rate = static_cast<uint32_t>(info.samplerate);
  p.media_id = known_id.empty() ? content_hash(path) : known_id;
  return p;
}

int64_t resampled_length(int64_t frames, uint32_t from, uint32_t to) noexcept {
  if (from == to)
    return frames;
  // frames < 2^40 and rates < 2^20 (checked when probing): no overflow.
  const auto num = static_cast<uint64_t>(frames) * to * 2u + from;
  return static_cast<int64_t>(num / (uint64_t{from} * 2u));
}

decoded_media decode_resampled(const std::string& path, uint32_t rate, resample_quality quality) {
  SF_INFO info;
  SNDFILE* f = open_for_reading(path, info);
  check_shape(path, info);
  const auto nc = static_cast<size_t>(info.channels);
  // Read in chunks: the buffer grows with the data actually decoded, so a
  // header that claims more frames than the file holds cannot make us
  // allocate them.
  std::vector<float> in;
  constexpr sf_count_t chunk = 1 << 16;
  sf_count_t got = 0;
  try {
    while (got < info.frames) {
      const auto want = std::min(chunk, info.frames - got);
      in.resize(static_cast<size_t>(got + want) * nc);
      const auto n = sf_readf_float(f, in.data() + static_cast<size_t>(got) * nc, want);
      if (n <= 0)
        break;
      got += n;
    }
  } catch (const std::bad_alloc&) {
    sf_close(f);
    throw media_error(failure::unreadable, path + ": too large to decode in memory");
  }
  sf_close(f);
  if (got != info.frames)
    throw media_error(failure::unreadable, path + ": decoded " + std::to_string(got) + " of " +
                                             std::to_string(info.frames) +
                                             " frames the header promises");
  in.resize(static_cast<size_t>(got) * nc);
  const auto from = static_cast<uint32_t>(info.samplerate);
  const int64_t out_frames = resampled_length(info.frames, from, rate);
  std::vector<float> out(static_cast<size_t>(out_frames) * nc, 0.0f);
  if (from == rate) {
    out = in;
  } else {
    // One pass over the whole file with end_of_input: deterministic, and the
    // converter's delay is flushed. The output is then cut or padded to the
    // exact length every other part of Pulse computes.
    const int type = quality == resample_quality::best     ? SRC_SINC_BEST_QUALITY
                     : quality == resample_quality::medium ? SRC_SINC_MEDIUM_QUALITY
                                                           : SRC_SINC_FASTEST;
    std::vector<float> tmp(static_cast<size_t>(out_frames + 64) * nc, 0.0f);
    SRC_DATA d{};
    d.data_in = in.data();
    d.input_frames = info.frames;
    d.data_out = tmp.data();
    d.output_frames = out_frames + 64;
    d.src_ratio = static_cast<double>(rate) / from;
    d.end_of_input = 1;
    if (int err = src_simple(&d, type, info.channels); err != 0)
      throw media_error(failure::unreadable, path + ": resampling: " + src_strerror(err));
    std::copy_n(tmp.begin(), std::min<size_t>(tmp.size(), out.size()), out.begin());
  }
  decoded_media m;
  m.channels = static_cast<uint16_t>(nc);
  m.frames = out_frames;
  m.samples.resize(out.size());
  for (size_t c = 0; c < nc; ++c)
    for (size_t i = 0; i < static_cast<size_t>(out_frames); ++i)
      m.samples[c * static_cast<size_t>(out_frames) + i] = out[i * nc + c];
  return m;
}

media_stream::media_stream(const std::string& path, bool allow_raw) : path_(path) {
  SF_INFO info;
  file_ = open_for_reading(path, info);
  check_shape(path, info);
  channels_ = static_cast<uint16_t>(info.channels);
  frames_ = info.frames;
  const int major = info.format & SF_FORMAT_TYPEMASK;
  const int endian = info.format & SF_FORMAT_ENDMASK;
  const bool little = endian == SF_ENDIAN_FILE || endian == SF_ENDIAN_LITTLE;
  const bool riff = major == SF_FORMAT_WAV || major == SF_FORMAT_WAVEX ||
                    major == SF_FORMAT_RF64 || major == SF_FORMAT_W64;
  if (allow_raw && riff && little && std::endian::native == std::endian::little) {
    switch (info.format & SF_FORMAT_SUBMASK) {
      case SF_FORMAT_PCM_16:
        decoding_ = decoding::raw_pcm16;
        break;
      case SF_FORMAT_PCM_24:
        decoding_ = decoding::raw_pcm24;
        break;
      case SF_FORMAT_PCM_32:
        decoding_ = decoding::raw_pcm32;
        break;
      case SF_FORMAT_FLOAT:
        decoding_ = decoding::raw_float;
        break;
      default:
        break;
    }
  }
}

namespace {

#if defined(__x86_64__) && defined(__GNUC__)
// Stereo 24-bit PCM, four frames at a time: pshufb moves each 3-byte sample
// into the top of a 32-bit lane, an arithmetic shift sign-extends it, and the
// conversion and the scaling by 2^-23 are exact, so the floats are the very
// ones the scalar loop (and libsndfile) make. Reads up to 4 bytes past the
// last frame: the caller pads its buffer.
__attribute__((target("ssse3"))) size_t stereo_pcm24_ssse3(const unsigned char* in,
                                                            size_t frames, float* l, float* r) {
  const __m128i place = _mm_setr_epi8(-1, 0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11);
  const __m128 scale = _mm_set1_ps(1.0f / 8388608.0f);
  size_t i = 0;
  for (; i + 4 <= frames; i += 4) {
    const unsigned char* p = in + i * 6;
    const __m128i a = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), place);
    const __m128i b =
      _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 12)), place);
    const __m128 fa = _mm_mul_ps(_mm_cvtepi32_ps(_mm_srai_epi32(a, 8)), scale); // L0 R0 L1 R1
    const __m128 fb = _mm_mul_ps(_mm_cvtepi32_ps(_mm_srai_epi32(b, 8)), scale); // L2 R2 L3 R3
    _mm_storeu_ps(l + i, _mm_shuffle_ps(fa, fb, _MM_SHUFFLE(2, 0, 2, 0)));
    _mm_storeu_ps(r + i, _mm_shuffle_ps(fa, fb, _MM_SHUFFLE(3, 1, 3, 1)));
  }
  return i;
}
#endif

// One pass from interleaved little-endian samples to planar floats. Each
// conversion equals libsndfile's: an integer times a power of two.
void convert_raw(media_stream::decoding how, const unsigned char* in, size_t frames, size_t nc,
                 float* dest, int64_t stride, int64_t done) {
  auto plane = [&](size_t c) { return dest + static_cast<int64_t>(c) * stride + done; };
  switch (how) {
    case media_stream::decoding::raw_pcm16:
      for (size_t c = 0; c < nc; ++c) {
        float* d = plane(c);
        for (size_t i = 0; i < frames; ++i) {
          int16_t v;
          std::memcpy(&v, in + (i * nc + c) * 2, 2);
          d[i] = static_cast<float>(v) * (1.0f / 32768.0f);
        }
      }
      return;
    case media_stream::decoding::raw_pcm24:
      if (nc == 2) {
        // The common case in one pass: one 8-byte load a frame (the buffer
        // has 2 bytes of padding for the last one).
        float* l = plane(0);
        float* r = plane(1);
        size_t first = 0;
#if defined(__x86_64__) && defined(__GNUC__)
        static const bool ssse3 = __builtin_cpu_supports("ssse3");
        if (ssse3)
          first = stereo_pcm24_ssse3(in, frames, l, r);
#endif
        for (size_t i = first; i < frames; ++i) {
          uint64_t w;
          std::memcpy(&w, in + i * 6, 8);
          const auto a = static_cast<uint32_t>(w << 8);
          const auto b = static_cast<uint32_t>((w >> 24) << 8);
          l[i] = static_cast<float>(static_cast<int32_t>(a) >> 8) * (1.0f / 8388608.0f);
          r[i] = static_cast<float>(static_cast<int32_t>(b) >> 8) * (1.0f / 8388608.0f);
        }
        return;
      }
      for (size_t c = 0; c < nc; ++c) {
        float* d = plane(c);
        const unsigned char* p = in + c * 3;
        const size_t step = nc * 3;
        for (size_t i = 0; i < frames; ++i, p += step) {
          // Three bytes into the top of a 32-bit word, then an arithmetic
          // shift back: sign extension without a branch.
          const auto u = static_cast<uint32_t>(p[0]) << 8 | static_cast<uint32_t>(p[1]) << 16 |
                         static_cast<uint32_t>(p[2]) << 24;
          d[i] = static_cast<float>(static_cast<int32_t>(u) >> 8) * (1.0f / 8388608.0f);
        }
      }
      return;
    case media_stream::decoding::raw_pcm32:
      for (size_t c = 0; c < nc; ++c) {
        float* d = plane(c);
        for (size_t i = 0; i < frames; ++i) {
          int32_t v;
          std::memcpy(&v, in + (i * nc + c) * 4, 4);
          d[i] = static_cast<float>(v) * (1.0f / 2147483648.0f);
        }
      }
      return;
    case media_stream::decoding::raw_float:
      for (size_t c = 0; c < nc; ++c) {
        float* d = plane(c);
        for (size_t i = 0; i < frames; ++i)
          std::memcpy(d + i, in + (i * nc + c) * 4, 4);
      }
      return;
    case media_stream::decoding::library:
      return;
  }
}

size_t bytes_per_sample(media_stream::decoding how) {
  switch (how) {
    case media_stream::decoding::raw_pcm16:
      return 2;
    case media_stream::decoding::raw_pcm24:
      return 3;
    default:
      return 4;
  }
}

} // namespace

media_stream::~media_stream() {
  if (file_)
    sf_close(static_cast<SNDFILE*>(file_));
}

void media_stream::read(int64_t first, int64_t count, float* dest, int64_t stride) {
  auto* f = static_cast<SNDFILE*>(file_);
  if (first < 0 || count < 0 || first + count > frames_)
    throw media_error(failure::unreadable, path_ + ": frames [" + std::to_string(first) + ", " +
                                             std::to_string(first + count) + ") are outside the file");
  if (first != position_) {
    if (sf_seek(f, first, SEEK_SET) != first)
      throw media_error(failure::unreadable, path_ + ": cannot seek to frame " +
                                               std::to_string(first));
    position_ = first;
  }
  constexpr int64_t chunk = 16384;
  const auto nc = static_cast<size_t>(channels_);
  if (decoding_ != decoding::library) {
    const size_t frame_bytes = nc * bytes_per_sample(decoding_);
    raw_.resize(static_cast<size_t>(chunk) * frame_bytes + 16); // + padding for wide loads
    for (int64_t done = 0; done < count;) {
      const int64_t n = std::min(chunk, count - done);
      const auto want = static_cast<sf_count_t>(static_cast<size_t>(n) * frame_bytes);
      const auto got = sf_read_raw(f, raw_.data(), want);
      if (got != want)
        throw media_error(failure::unreadable,
                          path_ + ": file ends at frame " +
                            std::to_string(position_ + std::max<sf_count_t>(got, 0) /
                                                         static_cast<sf_count_t>(frame_bytes)) +
                            ", before its header's " + std::to_string(frames_));
      convert_raw(decoding_, raw_.data(), static_cast<size_t>(n), nc, dest, stride, done);
      position_ += n;
      done += n;
    }
    return;
  }
  interleaved_.resize(static_cast<size_t>(chunk) * nc);
  for (int64_t done = 0; done < count;) {
    const int64_t n = std::min(chunk, count - done);
    const auto got = sf_readf_float(f, interleaved_.data(), n);
    if (got != n)
      throw media_error(failure::unreadable, path_ + ": file ends at frame " +
                                               std::to_string(position_ + std::max<sf_count_t>(got, 0)) +
                                               ", before its header's " + std::to_string(frames_));
    for (size_t c = 0; c < nc; ++c) {
      float* d = dest + static_cast<int64_t>(c) * stride + done;
      const float* s = interleaved_.data() + c;
      for (int64_t i = 0; i < n; ++i)
        d[i] = s[static_cast<size_t>(i) * nc];
    }
    position_ += n;
    done += n;
  }
}

} // namespace loophole::media
