#include "io/npy.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "common/file_util.h"

namespace sextant::io {
namespace fs = std::filesystem;

// The format stores little-endian values and we copy them as raw bytes.
static_assert(std::endian::native == std::endian::little,
              "sextant::io reads and writes .npy data as native little-endian bytes");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
// numpy aligns the start of the data to this many bytes.
constexpr size_t kArrayAlign = 64;
// numpy.save leaves room to rewrite the first dimension in place with up to
// this many digits; we reproduce it to write the same bytes as numpy.
constexpr size_t kGrowthAxisMaxDigits = 21;
constexpr char kExpectedDtypes[] = "expected float16, float32 or float64 ('<f2', '<f4' or '<f8')";

// ---------------------------------------------------------------------------
// Low-level file access.

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Status ErrnoStatus(const std::string& what, const fs::path& path, int err) {
  std::string msg = what + " '" + path.string() + "': " + std::strerror(err);
  if (err == ENOENT) return Status::NotFound(msg);
  return Status::IOError(msg);
}

// Opens `path` read-only and returns its size; rejects folders and the like.
Result<int> OpenForRead(const fs::path& path, int64_t* size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open", path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus("cannot stat", path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::Invalid("'" + path.string() + "' is not a regular file; expected a .npy file");
  }
  *size = static_cast<int64_t>(st.st_size);
  return fd;
}

// Reads exactly `n` bytes at `offset`; the caller checked the file is long enough.
Status PreadFully(int fd, const fs::path& path, void* buf, size_t n, int64_t offset) {
  char* out = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t got = ::pread(fd, out, n, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot read", path, errno);
    }
    if (got == 0) return Status::IOError("'" + path.string() + "' shrank while being read");
    out += got;
    n -= static_cast<size_t>(got);
    offset += got;
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Header parsing. The header is the repr() of a Python dict such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// We parse the small subset of Python literals numpy writes there.

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
  int64_t data_offset = 0;  // bytes from the start of the file to the data
};

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

class HeaderParser {
 public:
  HeaderParser(const fs::path& path, std::string_view text) : path_(path), text_(text) {}

  Result<NpyHeader> Parse() {
    NpyHeader header;
    bool has_descr = false, has_fortran = false, has_shape = false;
    SkipSpace();
    if (!Consume('{')) return Error("expected '{'");
    while (true) {
      SkipSpace();
      if (Consume('}')) break;
      std::string key;
      if (!ParseString(&key)) return Error("expected a quoted key");
      SkipSpace();
      if (!Consume(':')) return Error("expected ':' after '" + key + "'");
      SkipSpace();
      if (key == "descr") {
        if (!ParseString(&header.descr)) {
          // A list here is a structured dtype; report it as unsupported.
          std::string raw = SkipValue();
          return Status::Invalid(path_.string() + ": unsupported dtype " + raw + "; " +
                                 kExpectedDtypes);
        }
        has_descr = true;
      } else if (key == "fortran_order") {
        if (ConsumeWord("True")) {
          header.fortran_order = true;
        } else if (ConsumeWord("False")) {
          header.fortran_order = false;
        } else {
          return Error("expected True or False for 'fortran_order'");
        }
        has_fortran = true;
      } else if (key == "shape") {
        if (!ParseShape(&header.shape)) return Error("expected a tuple of integers for 'shape'");
        has_shape = true;
      } else {
        SkipValue();  // unknown keys are ignored, as numpy does not write any
      }
      SkipSpace();
      if (Consume(',')) continue;
      SkipSpace();
      if (Consume('}')) break;
      return Error("expected ',' or '}'");
    }
    if (!has_descr) return Error("no 'descr' key");
    if (!has_fortran) return Error("no 'fortran_order' key");
    if (!has_shape) return Error("no 'shape' key");
    return header;
  }

 private:
  Status Error(const std::string& what) const {
    return Status::Invalid(path_.string() + ": malformed .npy header at byte " +
                           std::to_string(pos_) + " of the header dict: " + what +
                           "; the header is " + std::string(Trimmed()));
  }

  std::string_view Trimmed() const {
    std::string_view t = text_;
    while (!t.empty() && (t.back() == ' ' || t.back() == '\n')) t.remove_suffix(1);
    return t;
  }

  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool ConsumeWord(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  // A Python string literal in single or double quotes (no escapes needed for
  // the keys and dtypes numpy writes, but a backslash escape is taken as is).
  bool ParseString(std::string* out) {
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) return false;
    char quote = text_[pos_];
    size_t p = pos_ + 1;
    std::string s;
    while (p < text_.size() && text_[p] != quote) {
      if (text_[p] == '\\' && p + 1 < text_.size()) ++p;
      s.push_back(text_[p++]);
    }
    if (p >= text_.size()) return false;
    pos_ = p + 1;
    *out = std::move(s);
    return true;
  }

  // A tuple (or list) of non-negative integers; Python 2 files may write "3L".
  bool ParseShape(std::vector<int64_t>* shape) {
    char close;
    if (Consume('(')) {
      close = ')';
    } else if (Consume('[')) {
      close = ']';
    } else {
      return false;
    }
    shape->clear();
    while (true) {
      SkipSpace();
      if (Consume(close)) return true;
      size_t start = pos_;
      int64_t v = 0;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        if (pos_ - start >= 18) return false;  // would overflow int64
        v = v * 10 + (text_[pos_++] - '0');
      }
      if (pos_ == start) return false;
      Consume('L');
      shape->push_back(v);
      SkipSpace();
      if (Consume(',')) continue;
      SkipSpace();
      if (Consume(close)) return true;
      return false;
    }
  }

  // Skips any value (balanced brackets, quoted strings) and returns its text.
  std::string SkipValue() {
    size_t start = pos_;
    int depth = 0;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '\'' || c == '"') {
        std::string ignored;
        if (!ParseString(&ignored)) {
          pos_ = text_.size();
          break;
        }
        continue;
      }
      if (c == '(' || c == '[' || c == '{') ++depth;
      if (c == ')' || c == ']' || c == '}') {
        if (depth == 0) break;
        --depth;
      }
      if (c == ',' && depth == 0) break;
      ++pos_;
    }
    return std::string(text_.substr(start, pos_ - start));
  }

  const fs::path& path_;
  std::string_view text_;
  size_t pos_ = 0;
};

// Parses the preamble and header of a .npy file. `read_at(offset, n, buf)`
// reads n bytes at offset; `file_size` bounds what it may be asked for.
template <typename ReadAt>
Result<NpyHeader> ReadHeader(const fs::path& path, int64_t file_size, ReadAt&& read_at) {
  const std::string bad_magic = path.string() +
                                ": not a .npy file (bad magic bytes); expected it to start with "
                                "\\x93NUMPY, as numpy.save writes";
  if (file_size < static_cast<int64_t>(kMagicLen + 2)) {
    if (file_size == 0)
      return Status::Invalid(path.string() + ": file is empty; expected a .npy file");
    return Status::Invalid(bad_magic);
  }
  unsigned char pre[12] = {};
  size_t pre_len = static_cast<size_t>(std::min<int64_t>(file_size, 12));
  SEXTANT_RETURN_IF_ERROR(read_at(0, pre_len, pre));
  if (std::memcmp(pre, kMagic, kMagicLen) != 0) return Status::Invalid(bad_magic);
  int major = pre[6], minor = pre[7];
  size_t header_len;
  size_t header_start;
  if (major == 1 && minor == 0) {
    header_start = 10;
    header_len = static_cast<size_t>(pre[8]) | (static_cast<size_t>(pre[9]) << 8);
  } else if ((major == 2 || major == 3) && minor == 0) {
    header_start = 12;
    if (pre_len < 12) {
      return Status::Invalid(path.string() + ": truncated .npy header; the file has only " +
                             std::to_string(file_size) + " bytes");
    }
    header_len = static_cast<size_t>(pre[8]) | (static_cast<size_t>(pre[9]) << 8) |
                 (static_cast<size_t>(pre[10]) << 16) | (static_cast<size_t>(pre[11]) << 24);
  } else {
    return Status::Invalid(path.string() + ": unsupported .npy format version " +
                           std::to_string(major) + "." + std::to_string(minor) +
                           "; expected 1.0, 2.0 or 3.0");
  }
  if (static_cast<int64_t>(header_start + header_len) > file_size) {
    return Status::Invalid(path.string() + ": truncated .npy header; it declares " +
                           std::to_string(header_len) + " header bytes but the file has only " +
                           std::to_string(file_size) + " bytes");
  }
  std::string text(header_len, '\0');
  SEXTANT_RETURN_IF_ERROR(read_at(static_cast<int64_t>(header_start), header_len, text.data()));
  SEXTANT_ASSIGN_OR_RETURN(NpyHeader header, HeaderParser(path, text).Parse());
  header.data_offset = static_cast<int64_t>(header_start + header_len);
  return header;
}

// Checks what both readers need: C order, 1 or 2 dimensions, and all the data
// present for elements of `itemsize` bytes. Sets rows and cols.
Status CheckLayout(const fs::path& path, const NpyHeader& header, int64_t file_size,
                   size_t itemsize, int64_t* rows, int64_t* cols) {
  if (header.fortran_order) {
    return Status::Invalid(path.string() +
                           ": fortran_order is True; expected a C-order array (save "
                           "np.ascontiguousarray(x) instead)");
  }
  if (header.shape.empty() || header.shape.size() > 2) {
    return Status::Invalid(path.string() + ": shape " + ShapeString(header.shape) + " has " +
                           std::to_string(header.shape.size()) +
                           " dimensions; expected 1 (n,) or 2 (rows, cols)");
  }
  *rows = header.shape[0];
  *cols = header.shape.size() == 2 ? header.shape[1] : 1;
  int64_t count = 0, needed = 0;
  bool overflow = __builtin_mul_overflow(*rows, *cols, &count) ||
                  __builtin_mul_overflow(count, static_cast<int64_t>(itemsize), &needed);
  int64_t available = file_size - header.data_offset;
  if (overflow || needed > available) {
    return Status::Invalid(path.string() + ": holds " + std::to_string(available) +
                           " bytes of data; shape " + ShapeString(header.shape) + " needs " +
                           (overflow ? std::string("more than 2^63") : std::to_string(needed)) +
                           " (the file is truncated or its header is wrong)");
  }
  return Status::OK();
}

// Element size of a supported dtype, or 0.
size_t FloatItemSize(std::string_view descr) {
  if (descr.size() != 3 || (descr[0] != '<' && descr[0] != '=') || descr[1] != 'f') return 0;
  switch (descr[2]) {
    case '2':
      return 2;
    case '4':
      return 4;
    case '8':
      return 8;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Writing.

// The bytes numpy.save writes before the data of an array of dtype `descr`
// and `shape` (format 1.0).
std::string MakeHeader(std::string_view descr, const std::vector<int64_t>& shape) {
  std::string dict = "{'descr': '" + std::string(descr) +
                     "', 'fortran_order': False, 'shape': " + ShapeString(shape) + ", }";
  size_t first_len = std::to_string(shape.empty() ? 0 : shape[0]).size();
  if (!shape.empty() && first_len < kGrowthAxisMaxDigits) {
    dict.append(kGrowthAxisMaxDigits - first_len, ' ');
  }
  size_t hlen = dict.size() + 1;  // + the final newline
  size_t pad = kArrayAlign - ((kMagicLen + 2 + 2 + hlen) % kArrayAlign);
  dict.append(pad, ' ');
  dict.push_back('\n');
  std::string out(kMagic, kMagicLen);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(dict.size() & 0xff));
  out.push_back(static_cast<char>((dict.size() >> 8) & 0xff));
  return out + dict;
}

// Writes `header` then `payload_bytes` produced by `fill(buf, offset, n)`
// chunk by chunk, atomically.
template <typename Fill>
Status WriteNpy(const fs::path& path, const std::string& header, int64_t payload_bytes,
                Fill&& fill) {
  return WriteAtomicWith(path, [&](const fs::path& tmp) -> Status {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (f == nullptr) return ErrnoStatus("cannot create", tmp, errno);
    bool ok = std::fwrite(header.data(), 1, header.size(), f) == header.size();
    std::vector<char> buf;
    constexpr int64_t kChunk = 1 << 20;
    for (int64_t off = 0; ok && off < payload_bytes; off += kChunk) {
      size_t n = static_cast<size_t>(std::min(kChunk, payload_bytes - off));
      const char* bytes = fill(&buf, off, n);
      ok = std::fwrite(bytes, 1, n, f) == n;
    }
    int err = ok ? 0 : errno;
    if (std::fclose(f) != 0 && ok) {
      ok = false;
      err = errno;
    }
    if (!ok) return ErrnoStatus("cannot write", tmp, err);
    return Status::OK();
  });
}

Status CheckWriteArgs(const fs::path& path, const void* data, int64_t rows, int64_t cols,
                      size_t itemsize, int64_t* bytes) {
  int64_t count = 0;
  if (rows < 0 || cols < 0 || __builtin_mul_overflow(rows, cols, &count) ||
      __builtin_mul_overflow(count, static_cast<int64_t>(itemsize), bytes)) {
    return Status::Invalid("cannot write '" + path.string() + "': shape (" + std::to_string(rows) +
                           ", " + std::to_string(cols) + ") is negative or too large");
  }
  if (count > 0 && data == nullptr) {
    return Status::Invalid("cannot write '" + path.string() + "': data is null for " +
                           std::to_string(count) + " values");
  }
  return Status::OK();
}

}  // namespace

// ---------------------------------------------------------------------------
// float16.

uint16_t FloatToHalf(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // inf or NaN
    if (abs == 0x7f800000u) return sign | 0x7c00u;
    // Keep the top payload bits; the quiet bit guarantees it stays a NaN.
    return static_cast<uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
  }
  const int exp = static_cast<int>(abs >> 23);  // biased by 127
  const uint32_t mant = abs & 0x7fffffu;
  if (exp > 127 + 15) return sign | 0x7c00u;  // >= 65536: inf
  if (exp >= 127 - 14) {
    // Normal half. Rounding may carry into the exponent, up to inf: correct.
    uint32_t h = (static_cast<uint32_t>(exp - 127 + 15) << 10) | (mant >> 13);
    const uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  // Subnormal half: value = m * 2^-24. Below 2^-25 everything rounds to zero.
  if (exp < 127 - 25) return sign;
  const uint32_t full = mant | 0x800000u;  // 24-bit significand
  const int shift = 126 - exp;             // 14..24
  uint32_t m = full >> shift;
  const uint32_t rem = full & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (m & 1u))) ++m;  // may become the smallest normal
  return static_cast<uint16_t>(sign | m);
}

float HalfToFloat(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exp = (half >> 10) & 0x1fu;
  const uint32_t mant = half & 0x3ffu;
  if (exp == 0) {
    // Zero or subnormal: mant * 2^-24 is exact in float.
    float v = static_cast<float>(mant) * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp + 127 - 15) << 23) | (mant << 13));
}

// ---------------------------------------------------------------------------
// Writers.

Status WriteNpyFloat32(const fs::path& path, const float* data, int64_t rows, int64_t cols) {
  int64_t bytes = 0;
  SEXTANT_RETURN_IF_ERROR(CheckWriteArgs(path, data, rows, cols, sizeof(float), &bytes));
  const char* raw = reinterpret_cast<const char*>(data);
  return WriteNpy(path, MakeHeader("<f4", {rows, cols}), bytes,
                  [&](std::vector<char>*, int64_t off, size_t) { return raw + off; });
}

Status WriteNpyFloat16(const fs::path& path, const float* data, int64_t rows, int64_t cols) {
  int64_t bytes = 0;
  SEXTANT_RETURN_IF_ERROR(CheckWriteArgs(path, data, rows, cols, sizeof(uint16_t), &bytes));
  return WriteNpy(path, MakeHeader("<f2", {rows, cols}), bytes,
                  [&](std::vector<char>* buf, int64_t off, size_t n) {
                    buf->resize(n);
                    const float* src = data + off / 2;
                    for (size_t i = 0; i < n / 2; ++i) {
                      uint16_t h = FloatToHalf(src[i]);
                      std::memcpy(buf->data() + 2 * i, &h, 2);
                    }
                    return static_cast<const char*>(buf->data());
                  });
}

Status WriteNpyInt64(const fs::path& path, const int64_t* data, int64_t n) {
  int64_t bytes = 0;
  SEXTANT_RETURN_IF_ERROR(CheckWriteArgs(path, data, n, 1, sizeof(int64_t), &bytes));
  const char* raw = reinterpret_cast<const char*>(data);
  return WriteNpy(path, MakeHeader("<i8", {n}), bytes,
                  [&](std::vector<char>*, int64_t off, size_t) { return raw + off; });
}

// ---------------------------------------------------------------------------
// Readers.

Result<FloatMatrix> ReadNpyAsFloat32(const fs::path& path) {
  int64_t file_size = 0;
  SEXTANT_ASSIGN_OR_RETURN(int raw_fd, OpenForRead(path, &file_size));
  Fd fd(raw_fd);
  SEXTANT_ASSIGN_OR_RETURN(NpyHeader header,
                           ReadHeader(path, file_size, [&](int64_t off, size_t n, void* buf) {
                             return PreadFully(fd.get(), path, buf, n, off);
                           }));
  const size_t itemsize = FloatItemSize(header.descr);
  if (itemsize == 0) {
    return Status::Invalid(path.string() + ": unsupported dtype '" + header.descr + "'; " +
                           kExpectedDtypes);
  }
  FloatMatrix m;
  SEXTANT_RETURN_IF_ERROR(CheckLayout(path, header, file_size, itemsize, &m.rows, &m.cols));
  const size_t count = static_cast<size_t>(m.rows * m.cols);
  m.data.resize(count);
  if (itemsize == 4) {
    SEXTANT_RETURN_IF_ERROR(
        PreadFully(fd.get(), path, m.data.data(), count * 4, header.data_offset));
    return m;
  }
  // Convert chunk by chunk so the peak memory stays near the float32 result.
  constexpr size_t kChunkValues = 1 << 16;
  std::vector<char> buf(std::min(count, kChunkValues) * itemsize);
  for (size_t done = 0; done < count;) {
    const size_t n = std::min(kChunkValues, count - done);
    SEXTANT_RETURN_IF_ERROR(PreadFully(fd.get(), path, buf.data(), n * itemsize,
                                       header.data_offset + static_cast<int64_t>(done * itemsize)));
    float* out = m.data.data() + done;
    if (itemsize == 2) {
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, buf.data() + 2 * i, 2);
        out[i] = HalfToFloat(h);
      }
    } else {
      for (size_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, buf.data() + 8 * i, 8);
        out[i] = static_cast<float>(d);
      }
    }
    done += n;
  }
  return m;
}

Result<std::vector<int64_t>> ReadNpyInt64(const fs::path& path) {
  int64_t file_size = 0;
  SEXTANT_ASSIGN_OR_RETURN(int raw_fd, OpenForRead(path, &file_size));
  Fd fd(raw_fd);
  SEXTANT_ASSIGN_OR_RETURN(NpyHeader header,
                           ReadHeader(path, file_size, [&](int64_t off, size_t n, void* buf) {
                             return PreadFully(fd.get(), path, buf, n, off);
                           }));
  if (header.descr != "<i8" && header.descr != "=i8") {
    return Status::Invalid(path.string() + ": unsupported dtype '" + header.descr +
                           "'; expected int64 ('<i8')");
  }
  if (header.shape.size() != 1) {
    return Status::Invalid(path.string() + ": shape " + ShapeString(header.shape) +
                           "; expected a 1-D int64 array");
  }
  int64_t rows = 0, cols = 0;
  SEXTANT_RETURN_IF_ERROR(CheckLayout(path, header, file_size, sizeof(int64_t), &rows, &cols));
  std::vector<int64_t> out(static_cast<size_t>(rows * cols));
  if (!out.empty()) {
    SEXTANT_RETURN_IF_ERROR(
        PreadFully(fd.get(), path, out.data(), out.size() * sizeof(int64_t), header.data_offset));
  }
  return out;
}

Result<MappedNpy> MappedNpy::Open(const fs::path& path) {
  int64_t file_size = 0;
  SEXTANT_ASSIGN_OR_RETURN(int raw_fd, OpenForRead(path, &file_size));
  Fd fd(raw_fd);
  if (file_size == 0)
    return Status::Invalid(path.string() + ": file is empty; expected a .npy file");
  void* base = ::mmap(nullptr, static_cast<size_t>(file_size), PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (base == MAP_FAILED) return ErrnoStatus("cannot memory-map", path, errno);
  MappedNpy mapped;  // unmaps on every early return below
  mapped.base_ = base;
  mapped.length_ = static_cast<size_t>(file_size);
  const char* bytes = static_cast<const char*>(base);
  SEXTANT_ASSIGN_OR_RETURN(NpyHeader header,
                           ReadHeader(path, file_size, [&](int64_t off, size_t n, void* buf) {
                             std::memcpy(buf, bytes + off, n);
                             return Status::OK();
                           }));
  if (header.descr != "<f4" && header.descr != "=f4") {
    if (FloatItemSize(header.descr) != 0) {
      return Status::Invalid(path.string() + ": dtype '" + header.descr +
                             "' cannot be memory-mapped; expected float32 ('<f4') (read it "
                             "with a converting reader instead)");
    }
    return Status::Invalid(path.string() + ": unsupported dtype '" + header.descr +
                           "'; expected float32 ('<f4')");
  }
  SEXTANT_RETURN_IF_ERROR(
      CheckLayout(path, header, file_size, sizeof(float), &mapped.rows_, &mapped.cols_));
  if (header.data_offset % alignof(float) != 0) {
    return Status::Invalid(path.string() + ": data starts at byte " +
                           std::to_string(header.data_offset) +
                           ", not aligned for float32; expected a file written by numpy.save");
  }
  mapped.data_ = reinterpret_cast<const float*>(bytes + header.data_offset);
  return mapped;
}

MappedNpy::MappedNpy(MappedNpy&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)),
      length_(std::exchange(other.length_, 0)),
      data_(std::exchange(other.data_, nullptr)),
      rows_(std::exchange(other.rows_, 0)),
      cols_(std::exchange(other.cols_, 0)) {}

MappedNpy& MappedNpy::operator=(MappedNpy&& other) noexcept {
  if (this != &other) {
    Unmap();
    base_ = std::exchange(other.base_, nullptr);
    length_ = std::exchange(other.length_, 0);
    data_ = std::exchange(other.data_, nullptr);
    rows_ = std::exchange(other.rows_, 0);
    cols_ = std::exchange(other.cols_, 0);
  }
  return *this;
}

MappedNpy::~MappedNpy() { Unmap(); }

void MappedNpy::Unmap() {
  if (base_ != nullptr) ::munmap(base_, length_);
  base_ = nullptr;
  length_ = 0;
  data_ = nullptr;
  rows_ = cols_ = 0;
}

}  // namespace sextant::io
