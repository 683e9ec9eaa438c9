#include "media/output_file.hpp"

#include <fcntl.h>
#include <sndfile.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <new>
#include <utility>
#include <vector>

#include "media/media_error.hpp"

namespace loophole::media {

namespace fs = std::filesystem;

std::string_view to_string(output_format x) noexcept {
  switch (x) {
    case output_format::wav:
      return "wav";
    case output_format::rf64:
      return "rf64";
    case output_format::flac:
      return "flac";
    case output_format::aiff:
      return "aiff";
    case output_format::ogg:
      return "ogg";
    case output_format::opus:
      return "opus";
    case output_format::mp3:
      return "mp3";
  }
  return "unknown";
}

std::optional<output_format> parse_output_format(std::string_view name) noexcept {
  std::string lower;
  for (char c : name)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "aif")
    return output_format::aiff;
  if (lower == "wave")
    return output_format::wav;
  for (auto f : {output_format::wav, output_format::rf64, output_format::flac, output_format::aiff,
                 output_format::ogg, output_format::opus, output_format::mp3})
    if (to_string(f) == lower)
      return f;
  return std::nullopt;
}

std::optional<output_format> format_of_path(std::string_view path) noexcept {
  auto dot = path.rfind('.');
  auto slash = path.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash))
    return std::nullopt;
  return parse_output_format(path.substr(dot + 1));
}

bool is_lossy(output_format f) noexcept {
  return f == output_format::ogg || f == output_format::opus || f == output_format::mp3;
}

std::string check_bits(output_format format, uint16_t bits) {
  switch (format) {
    case output_format::wav:
    case output_format::rf64:
    case output_format::aiff:
      if (bits != 0 && bits != 8 && bits != 16 && bits != 24 && bits != 32)
        return "takes 8, 16, 24 or 32-bit integer or 32-bit float samples";
      return {};
    case output_format::flac:
      if (bits != 8 && bits != 16 && bits != 24)
        return "takes 8, 16 or 24-bit integer samples";
      return {};
    case output_format::ogg:
    case output_format::opus:
    case output_format::mp3:
      return {}; // lossy: the word length does not apply
  }
  return "is unknown";
}

std::string check_encoding(output_format format, uint16_t bits, uint32_t rate) {
  if (auto why = check_bits(format, bits); !why.empty())
    return why;
  const auto at = " (the session is at " + std::to_string(rate) + " Hz)";
  switch (format) {
    case output_format::flac:
      if (rate > 655350)
        return "cannot store a sample rate above 655350 Hz" + at;
      return {};
    case output_format::opus:
      if (rate != 8000 && rate != 12000 && rate != 16000 && rate != 24000 && rate != 48000)
        return "takes only 8, 12, 16, 24 or 48 kHz" + at;
      return {};
    case output_format::mp3:
      if (rate != 8000 && rate != 11025 && rate != 12000 && rate != 16000 && rate != 22050 &&
          rate != 24000 && rate != 32000 && rate != 44100 && rate != 48000)
        return "takes only 8, 11.025, 12, 16, 22.05, 24, 32, 44.1 or 48 kHz" + at;
      return {};
    default:
      return {};
  }
}

namespace {

int subtype_of(uint16_t bits, bool wav_like) {
  switch (bits) {
    case 0:
      return SF_FORMAT_FLOAT;
    case 8:
      return wav_like ? SF_FORMAT_PCM_U8 : SF_FORMAT_PCM_S8;
    case 16:
      return SF_FORMAT_PCM_16;
    case 24:
      return SF_FORMAT_PCM_24;
    default:
      return SF_FORMAT_PCM_32;
  }
}

int sndfile_format(const output_spec& s) {
  switch (s.format) {
    case output_format::wav: {
      // RF64 once the data chunk cannot be described by a 32-bit size.
      const auto bytes = static_cast<uint64_t>(s.frames) * s.channels *
                         (s.bits == 0 ? 4u : s.bits / 8u);
      // A surround layout needs WAVE_FORMAT_EXTENSIBLE for its channel mask.
      const bool surround = s.channels == 6 || s.channels == 8 || s.channels == 12;
      const int container = bytes > 0xFFFF0000ull ? SF_FORMAT_RF64
                            : surround            ? SF_FORMAT_WAVEX
                                                  : SF_FORMAT_WAV;
      return container | subtype_of(s.bits, true);
    }
    case output_format::rf64:
      return SF_FORMAT_RF64 | subtype_of(s.bits, true);
    case output_format::aiff:
      return SF_FORMAT_AIFF | subtype_of(s.bits, false);
    case output_format::flac:
      return SF_FORMAT_FLAC | subtype_of(s.bits, false);
    case output_format::ogg:
      return SF_FORMAT_OGG | SF_FORMAT_VORBIS;
    case output_format::opus:
      return SF_FORMAT_OGG | SF_FORMAT_OPUS;
    case output_format::mp3:
      return SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
  }
  return 0;
}

void copy_field(char* dest, size_t size, const std::string& value) {
  std::memset(dest, 0, size);
  std::memcpy(dest, value.data(), std::min(size, value.size()));
}

} // namespace

bool carries_markers(output_format f) noexcept {
  return f == output_format::wav || f == output_format::aiff;
}

void check_target(const output_spec& spec) {
  const fs::path target{spec.path};
  if (spec.markers.size() > max_markers)
    throw media_error(failure::unsupported, spec.path + ": " + std::to_string(spec.markers.size()) +
                                              " markers, more than the " +
                                              std::to_string(max_markers) + " a file may carry");
  if (auto why = check_encoding(spec.format, spec.bits, spec.sample_rate); !why.empty())
    throw media_error(failure::unsupported,
                      spec.path + ": " + std::string{to_string(spec.format)} + " " + why);
  std::error_code ec;
  if (fs::is_directory(target, ec))
    throw media_error(failure::unwritable, spec.path + ": is a directory");
  if (fs::exists(target, ec) && !spec.force)
    throw media_error(failure::exists, spec.path + ": exists (use --force to replace it)");
  const auto dir = target.has_parent_path() ? target.parent_path() : fs::path{"."};
  if (!fs::is_directory(dir, ec))
    throw media_error(failure::unwritable,
                      spec.path + ": " + dir.string() +
                        (fs::exists(dir, ec) ? " is not a folder" : " (the folder) does not exist"));
}

output_file::output_file(output_spec spec) : spec_(std::move(spec)) {
  check_target(spec_);
  const fs::path target{spec_.path};
  const auto dir = target.has_parent_path() ? target.parent_path() : fs::path{"."};
  if (spec_.temporary_path.empty()) {
    std::string name{"."}; // by append: GCC 12 -O3 warns falsely on "." + string
    name.append(target.filename().string()).append(".partial-XXXXXX");
    auto pattern = (dir / name).string();
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    fd_ = mkostemp(buf.data(), O_CLOEXEC);
    if (fd_ >= 0)
      temp_path_ = buf.data();
  } else {
    fd_ = ::open(spec_.temporary_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ >= 0)
      temp_path_ = spec_.temporary_path;
  }
  if (fd_ < 0)
    throw media_error(failure::unwritable,
                      spec_.path + ": cannot create a file in " + dir.string() + ": " +
                        std::strerror(errno));
  fchmod(fd_, 0644);
  try {
    if (!spec_.spool_path.empty()) {
      // Kept if it exists: a resumed render reads the frames it needs from
      // the spool it left (write_earlier_frames), then appends.
      spool_fd_ = ::open(spec_.spool_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (spool_fd_ < 0)
        throw media_error(failure::unwritable, spec_.path + ": cannot create " +
                                                 spec_.spool_path + ": " + std::strerror(errno));
    }
    open_encoder();
  } catch (...) {
    if (spool_fd_ >= 0)
      close(spool_fd_);
    spool_fd_ = -1;
    // The destructor does not run for a constructor that throws.
    if (file_)
      sf_close(static_cast<SNDFILE*>(file_));
    file_ = nullptr;
    close(fd_);
    fd_ = -1;
    unlink(temp_path_.c_str());
    throw;
  }
}

void output_file::open_encoder() {

  SF_INFO info{};
  info.samplerate = static_cast<int>(spec_.sample_rate);
  info.channels = spec_.channels;
  info.format = sndfile_format(spec_);
  if (!sf_format_check(&info))
    fail_io("libsndfile refuses " + std::string{to_string(spec_.format)} + " with " +
            std::to_string(spec_.channels) + " channels at " +
            std::to_string(spec_.sample_rate) + " Hz");
  auto* f = sf_open_fd(fd_, SFM_WRITE, &info, SF_FALSE);
  if (!f)
    fail_io(std::string{"cannot start encoding: "} + sf_strerror(nullptr));
  file_ = f;
  // A PEAK chunk carries the time of writing, which would make two renders
  // of the same session differ.
  sf_command(f, SFC_SET_ADD_PEAK_CHUNK, nullptr, SF_FALSE);
  // Surround layouts name their speakers (the WAV channel mask; libsndfile
  // names the front three LEFT, RIGHT, CENTER): 5.1 as
  // L R C LFE Ls Rs (sides), 7.1 adding the rears after them, 7.1.4 the four
  // heights, in the order WAVE_FORMAT_EXTENSIBLE fixes.
  if (spec_.channels == 6 || spec_.channels == 8 || spec_.channels == 12) {
    std::vector<int> map{SF_CHANNEL_MAP_LEFT, SF_CHANNEL_MAP_RIGHT, SF_CHANNEL_MAP_CENTER, SF_CHANNEL_MAP_LFE};
    if (spec_.channels >= 8)
      map.insert(map.end(), {SF_CHANNEL_MAP_REAR_LEFT, SF_CHANNEL_MAP_REAR_RIGHT});
    map.insert(map.end(), {SF_CHANNEL_MAP_SIDE_LEFT, SF_CHANNEL_MAP_SIDE_RIGHT});
    if (spec_.channels == 12)
      map.insert(map.end(), {SF_CHANNEL_MAP_TOP_FRONT_LEFT, SF_CHANNEL_MAP_TOP_FRONT_RIGHT,
                             SF_CHANNEL_MAP_TOP_REAR_LEFT, SF_CHANNEL_MAP_TOP_REAR_RIGHT});
    sf_command(f, SFC_SET_CHANNEL_MAP_INFO, map.data(),
               static_cast<int>(map.size() * sizeof(int)));
  }
  if (is_lossy(spec_.format)) {
    double q = std::clamp(spec_.vbr_quality, 0.0, 1.0);
    // libsndfile's scale is compression level: 0 best quality, 1 smallest.
    double level = 1.0 - q;
    sf_command(f, SFC_SET_VBR_ENCODING_QUALITY, &level, sizeof level);
  }
  if (spec_.format == output_format::wav || spec_.format == output_format::rf64) {
    SF_BROADCAST_INFO bext{};
    copy_field(bext.description, sizeof bext.description, spec_.title);
    copy_field(bext.originator, sizeof bext.originator, spec_.artist.empty() ? "Loophole"
                                                                              : spec_.artist);
    copy_field(bext.originator_reference, sizeof bext.originator_reference, "");
    copy_field(bext.origination_date, sizeof bext.origination_date, spec_.date);
    copy_field(bext.origination_time, sizeof bext.origination_time,
               spec_.date.empty() ? "" : "00:00:00");
    bext.time_reference_low = static_cast<uint32_t>(static_cast<uint64_t>(spec_.time_reference));
    bext.time_reference_high =
      static_cast<uint32_t>(static_cast<uint64_t>(spec_.time_reference) >> 32);
    bext.version = 1;
    const std::string history =
      "A=" + std::string{spec_.bits == 0 ? "PCM_FLOAT" : "PCM"} +
      ",F=" + std::to_string(spec_.sample_rate) + ",W=" + std::to_string(spec_.bits == 0 ? 32
                                                                              : spec_.bits) +
      ",M=" + (spec_.channels == 1 ? "mono" : spec_.channels == 2 ? "stereo" : "multichannel") +
      ",T=Loophole\r\n";
    copy_field(bext.coding_history, sizeof bext.coding_history, history);
    bext.coding_history_size = static_cast<uint32_t>(history.size());
    if (sf_command(f, SFC_SET_BROADCAST_INFO, &bext, sizeof bext) != SF_TRUE)
      fail_io("cannot add the BWF bext chunk");
  }
  add_cue_points();
  auto tag = [&](int id, const std::string& value) {
    if (!value.empty())
      sf_set_string(f, id, value.c_str());
  };
  tag(SF_STR_TITLE, spec_.title);
  tag(SF_STR_ARTIST, spec_.artist);
  tag(SF_STR_COMMENT, spec_.comment);
  tag(SF_STR_DATE, spec_.date);
  tag(SF_STR_SOFTWARE, "Loophole");
}

output_file::~output_file() {
  if (spool_fd_ >= 0)
    close(spool_fd_);
  if (file_)
    sf_close(static_cast<SNDFILE*>(file_));
  if (fd_ >= 0)
    close(fd_);
  if (!committed_ && !temp_path_.empty())
    unlink(temp_path_.c_str());
}

void output_file::fail_io(const std::string& what) {
  throw media_error(failure::io, spec_.path + ": " + what);
}

namespace {

size_t bytes_per_sample(const output_spec& spec) {
  return spec.bits == 0 ? 4u : std::max<size_t>(1, spec.bits / 8u);
}

bool write_fully(int fd, const void* data, size_t bytes) {
  const auto* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const auto n = ::write(fd, p, bytes);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      if (n == 0)
        errno = EIO;
      return false;
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
  return true;
}

} // namespace

bool can_read_back(output_format f) noexcept {
  return f == output_format::wav || f == output_format::rf64 || f == output_format::aiff;
}

void output_file::append_spool(const void* data, size_t bytes) {
  if (spool_fd_ >= 0 && !write_fully(spool_fd_, data, bytes))
    fail_io("writing the spool " + spec_.spool_path + " failed: " + std::strerror(errno));
}

void output_file::note_data_offset() {
  // libsndfile writes PCM straight through to the descriptor, so after a
  // write the position is the data start plus what was written.
  if (data_offset_ >= 0 || !can_read_back(spec_.format) || written_ == 0)
    return;
  const auto pos = ::lseek(fd_, 0, SEEK_CUR);
  const auto data = written_ * static_cast<int64_t>(spec_.channels * bytes_per_sample(spec_));
  if (pos >= data)
    data_offset_ = pos - data;
}

void output_file::write_earlier_frames(const std::string& partial, int64_t data_offset,
                                       int64_t frames, int64_t chunk_frames) {
  if (written_ != 0)
    fail_io("earlier frames must come first");
  if (frames <= 0)
    return;
  if (chunk_frames <= 0 || chunk_frames > (int64_t{1} << 24))
    fail_io("resuming: a chunk of " + std::to_string(chunk_frames) + " frames");
  const bool is_float = spec_.bits == 0 || is_lossy(spec_.format);
  const auto chunk = static_cast<size_t>(chunk_frames);
  std::vector<int32_t> ints;
  std::vector<float> floats;
  (is_float ? floats.resize(chunk * spec_.channels) : ints.resize(chunk * spec_.channels));
  if (partial.empty()) {
    // The spool holds exactly what was given to the encoder.
    if (spool_fd_ < 0)
      fail_io("no spool to resume from");
    const int in = spool_fd_;
    spool_fd_ = -1; // read it, then append from where the earlier frames end
    const size_t frame_bytes = size_t{spec_.channels} * 4u;
    for (int64_t done = 0; done < frames;) {
      const auto n = static_cast<size_t>(std::min<int64_t>(chunk_frames, frames - done));
      void* buf = is_float ? static_cast<void*>(floats.data()) : static_cast<void*>(ints.data());
      const auto want = n * frame_bytes;
      const auto got = ::pread(in, buf, want, done * static_cast<off_t>(frame_bytes));
      if (got != static_cast<ssize_t>(want)) {
        spool_fd_ = in;
        fail_io("the spool of the interrupted render ends before frame " +
                std::to_string(frames));
      }
      if (is_float)
        write_float(floats.data(), static_cast<int64_t>(n));
      else
        write_int(ints.data(), static_cast<int64_t>(n));
      done += static_cast<int64_t>(n);
    }
    spool_fd_ = in;
    const off_t end = frames * static_cast<off_t>(frame_bytes);
    if (::ftruncate(spool_fd_, end) != 0 || ::lseek(spool_fd_, end, SEEK_SET) != end)
      fail_io("cutting the spool failed: " + std::string{std::strerror(errno)});
    return;
  }
  // PCM: read the samples back from the partial file as raw data.
  SF_INFO info{};
  info.samplerate = static_cast<int>(spec_.sample_rate);
  info.channels = spec_.channels;
  info.format = SF_FORMAT_RAW | (sndfile_format(spec_) & SF_FORMAT_SUBMASK) |
                (spec_.format == output_format::aiff ? SF_ENDIAN_BIG : SF_ENDIAN_LITTLE);
  SNDFILE* f = sf_open(partial.c_str(), SFM_READ, &info);
  if (!f)
    fail_io("cannot read the interrupted render's " + partial + ": " + sf_strerror(nullptr));
  sf_count_t offset = data_offset;
  // The command moves the data start; the explicit seek moves the read
  // position there (libsndfile skips a relative seek by zero).
  if (sf_command(f, SFC_SET_RAW_START_OFFSET, &offset, sizeof offset) != 0 ||
      sf_seek(f, 0, SEEK_SET) != 0) {
    sf_close(f);
    fail_io("cannot read the interrupted render's " + partial + " from byte " +
            std::to_string(data_offset));
  }
  std::string why;
  for (int64_t done = 0; done < frames && why.empty();) {
    const auto n = std::min<int64_t>(static_cast<int64_t>(chunk), frames - done);
    const auto got = is_float ? sf_readf_float(f, floats.data(), n) : sf_readf_int(f, ints.data(), n);
    if (got != n) {
      why = "the interrupted render's " + partial + " ends before frame " + std::to_string(frames);
      break;
    }
    if (is_float)
      write_float(floats.data(), n);
    else
      write_int(ints.data(), n);
    done += n;
  }
  sf_close(f);
  if (!why.empty())
    fail_io(why);
}

void output_file::write_int(const int32_t* samples, int64_t frames) {
  append_spool(samples, static_cast<size_t>(frames) * spec_.channels * sizeof(int32_t));
  auto got = sf_writef_int(static_cast<SNDFILE*>(file_), samples, frames);
  if (got != frames)
    fail_io("write failed after " + std::to_string(written_ + std::max<int64_t>(got, 0)) +
            " frames: " + sf_strerror(static_cast<SNDFILE*>(file_)));
  written_ += frames;
  note_data_offset();
  start_writeback();
}

void output_file::write_float(const float* samples, int64_t frames) {
  append_spool(samples, static_cast<size_t>(frames) * spec_.channels * sizeof(float));
  auto got = sf_writef_float(static_cast<SNDFILE*>(file_), samples, frames);
  if (got != frames)
    fail_io("write failed after " + std::to_string(written_ + std::max<int64_t>(got, 0)) +
            " frames: " + sf_strerror(static_cast<SNDFILE*>(file_)));
  written_ += frames;
  note_data_offset();
  start_writeback();
}

// The cue points, through libsndfile: it writes WAV's `cue ` chunk (without
// names) and AIFF's `MARK` chunk (with them). SF_CUES holds 100 points; more
// take a buffer of the same layout, longer (libsndfile reads cue_count).
void output_file::add_cue_points() {
  if (spec_.markers.empty() || !carries_markers(spec_.format))
    return;
  const size_t n = spec_.markers.size();
  const size_t bytes = offsetof(SF_CUES, cue_points) + n * sizeof(SF_CUE_POINT);
  std::vector<std::byte> buffer(std::max(bytes, sizeof(SF_CUES)));
  auto* cues = new (buffer.data()) SF_CUES{};
  cues->cue_count = static_cast<uint32_t>(n);
  for (size_t i = 0; i < n; ++i) {
    SF_CUE_POINT& p = cues->cue_points[i];
    const auto& m = spec_.markers[i];
    p.indx = static_cast<int32_t>(i + 1);
    p.position = static_cast<uint32_t>(m.frame);
    p.fcc_chunk = 0x61746164; // "data", little-endian
    p.sample_offset = static_cast<uint32_t>(m.frame);
    copy_field(p.name, sizeof p.name, m.name);
  }
  if (sf_command(static_cast<SNDFILE*>(file_), SFC_SET_CUE, cues, static_cast<int>(bytes)) !=
      SF_TRUE)
    fail_io("cannot add the markers' cue points");
}

// WAV cue points get their names from a `LIST` chunk of type `adtl` holding a
// `labl` per point (RIFF MCI, 1991), which libsndfile does not write: it is
// appended to the closed file, and the RIFF size grows by it.
void output_file::append_wav_labels() {
  if (spec_.markers.empty() || spec_.format != output_format::wav)
    return;
  std::string list = "adtl";
  auto put32 = [](std::string& s, uint32_t v) {
    for (int i = 0; i < 4; ++i)
      s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  };
  for (size_t i = 0; i < spec_.markers.size(); ++i) {
    const std::string& name = spec_.markers[i].name;
    list += "labl";
    put32(list, static_cast<uint32_t>(4 + name.size() + 1));
    put32(list, static_cast<uint32_t>(i + 1));
    list += name;
    list.push_back('\0');
    if (list.size() % 2 != 0)
      list.push_back('\0'); // chunks start on even offsets
  }
  std::string chunk = "LIST";
  put32(chunk, static_cast<uint32_t>(list.size()));
  chunk += list;
  struct stat st {};
  if (fstat(fd_, &st) != 0)
    fail_io(std::string{"cannot add the marker names: "} + std::strerror(errno));
  auto end = static_cast<uint64_t>(st.st_size);
  if (end % 2 != 0) // a last chunk of odd length has its pad byte
    chunk.insert(chunk.begin(), '\0');
  const uint64_t riff = end + chunk.size() - 8;
  if (riff > 0xFFFFFFFFu)
    fail_io("the marker names do not fit in a WAV under 4 GiB: use rf64 without markers");
  std::string size;
  put32(size, static_cast<uint32_t>(riff));
  if (pwrite(fd_, chunk.data(), chunk.size(), static_cast<off_t>(end)) !=
        static_cast<ssize_t>(chunk.size()) ||
      pwrite(fd_, size.data(), 4, 4) != 4)
    fail_io(std::string{"cannot add the marker names: "} + std::strerror(errno));
}

void output_file::start_writeback() noexcept {
  // Start writing what is on its way to disk now, without waiting, so the
  // fsync at commit finds little left to do.
  sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
}

void output_file::commit() {
  if (written_ != spec_.frames)
    fail_io("wrote " + std::to_string(written_) + " frames, expected " +
            std::to_string(spec_.frames));
  auto* f = static_cast<SNDFILE*>(std::exchange(file_, nullptr));
  sf_write_sync(f);
  if (int err = sf_error(f); err != 0) {
    std::string msg = sf_strerror(f);
    sf_close(f);
    fail_io("encoding failed: " + msg);
  }
  if (sf_close(f) != 0)
    fail_io("closing the encoder failed");
  append_wav_labels();
  if (spec_.format == output_format::ogg || spec_.format == output_format::opus)
    normalise_ogg_serial(temp_path_, 0x4C4F4F50u); // "LOOP"
  if (fsync(fd_) != 0)
    fail_io(std::string{"sync failed: "} + std::strerror(errno));
  close(std::exchange(fd_, -1));

  // Re-open the finished file and check it says what we wrote.
  SF_INFO check{};
  SNDFILE* r = sf_open(temp_path_.c_str(), SFM_READ, &check);
  if (!r)
    fail_io(std::string{"the written file does not re-open: "} + sf_strerror(nullptr));
  sf_close(r);
  const bool frames_ok = is_lossy(spec_.format) ? check.frames >= spec_.frames - 4096
                                                : check.frames == spec_.frames;
  if (check.channels != spec_.channels || check.samplerate != static_cast<int>(spec_.sample_rate) ||
      !frames_ok)
    fail_io("the written file holds " + std::to_string(check.frames) + " frames of " +
            std::to_string(check.channels) + " channels at " + std::to_string(check.samplerate) +
            " Hz, expected " + std::to_string(spec_.frames) + " of " +
            std::to_string(spec_.channels) + " at " + std::to_string(spec_.sample_rate));

  const unsigned flags = spec_.force ? 0u : RENAME_NOREPLACE;
  if (renameat2(AT_FDCWD, temp_path_.c_str(), AT_FDCWD, spec_.path.c_str(), flags) != 0) {
    if (errno == EEXIST)
      throw media_error(failure::exists, spec_.path + ": appeared while rendering; not replaced");
    fail_io(std::string{"rename into place failed: "} + std::strerror(errno));
  }
  committed_ = true;
  // Sync the folder so the rename itself survives a power cut.
  const fs::path target{spec_.path};
  const auto dir = target.has_parent_path() ? target.parent_path() : fs::path{"."};
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
}

namespace {

std::array<uint32_t, 256> make_ogg_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t r = i << 24;
    for (int k = 0; k < 8; ++k)
      r = (r & 0x80000000u) ? (r << 1) ^ 0x04C11DB7u : r << 1;
    t[i] = r;
  }
  return t;
}

} // namespace

void normalise_ogg_serial(const std::string& path, uint32_t serial) {
  static const auto table = make_ogg_crc_table();
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0)
    throw media_error(failure::io, path + ": " + std::strerror(errno));
  // Page by page (a page is at most 65307 bytes), so any size of file works
  // in constant memory; each I/O loops over partial transfers.
  auto transfer = [&](bool write, unsigned char* data, size_t n, off_t at) {
    size_t done = 0;
    while (done < n) {
      const auto r = write ? pwrite(fd, data + done, n - done, at + static_cast<off_t>(done))
                           : pread(fd, data + done, n - done, at + static_cast<off_t>(done));
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        return done;
      done += static_cast<size_t>(r);
    }
    return done;
  };
  auto fail = [&](const std::string& why) {
    close(fd);
    throw media_error(failure::io, path + ": " + why + " while finishing the Ogg stream");
  };
  std::vector<unsigned char> page(27 + 255 + 255 * 255);
  off_t pos = 0;
  for (;;) {
    const auto got = transfer(false, page.data(), 27, pos);
    if (got == 0)
      break;
    if (got < 27 || std::memcmp(page.data(), "OggS", 4) != 0)
      fail("no Ogg page at byte " + std::to_string(pos));
    const size_t segments = page[26];
    if (transfer(false, page.data() + 27, segments, pos + 27) < segments)
      fail("a truncated page at byte " + std::to_string(pos));
    size_t len = 27 + segments;
    for (size_t i = 0; i < segments; ++i)
      len += page[27 + i];
    const size_t body = len - 27 - segments;
    if (transfer(false, page.data() + 27 + segments, body, pos + static_cast<off_t>(27 + segments)) <
        body)
      fail("a truncated page at byte " + std::to_string(pos));
    for (size_t i = 0; i < 4; ++i) {
      page[14 + i] = static_cast<unsigned char>(serial >> (8 * i));
      page[22 + i] = 0;
    }
    uint32_t crc = 0;
    for (size_t i = 0; i < len; ++i)
      crc = (crc << 8) ^ table[((crc >> 24) ^ page[i]) & 0xFFu];
    for (size_t i = 0; i < 4; ++i)
      page[22 + i] = static_cast<unsigned char>(crc >> (8 * i));
    if (transfer(true, page.data(), len, pos) < len)
      fail(std::string{"write failed: "} + std::strerror(errno));
    pos += static_cast<off_t>(len);
  }
  close(fd);
}

} // namespace loophole::media
