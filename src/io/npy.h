// NumPy .npy files: the format embeddings and logits travel in.
//
// Reading accepts format versions 1.0, 2.0 and 3.0 holding a little-endian,
// C-order ('fortran_order': False) array of float16, float32 or float64 with
// one or two dimensions. Writing produces version 1.0 files whose header is
// byte-for-byte what numpy.save writes for the same array, so files written
// here and by numpy are interchangeable.
//
// Every error returned here names the file and says what was expected. Files
// that cannot be opened give NotFound (missing) or IOError; files whose
// content is wrong give Invalid.
//
// Thread safety: all functions are reentrant; a MappedNpy may be read from
// many threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "sextant/status.h"

namespace sextant::io {

// A dense row-major float32 matrix: element (r, c) is data[r * cols + c].
struct FloatMatrix {
  std::vector<float> data;
  int64_t rows = 0;
  int64_t cols = 0;
};

// Writes `rows` x `cols` float32 values from `data` (C order, rows * cols
// elements; may be null when that product is 0) as a '<f4' array of shape
// (rows, cols). The write is atomic: a temporary file in the same folder is
// written, fsynced and renamed over `path` (WriteAtomicWith), so readers see
// the old file or the new one, never a torn one. Invalid for negative sizes.
Status WriteNpyFloat32(const std::filesystem::path& path, const float* data, int64_t rows,
                       int64_t cols);

// As WriteNpyFloat32, but stores each value as float16 ('<f2'), rounding to
// nearest even (FloatToHalf). Values beyond +-65504 become +-inf.
Status WriteNpyFloat16(const std::filesystem::path& path, const float* data, int64_t rows,
                       int64_t cols);

// Writes `n` int64 values as a 1-D '<i8' array of shape (n,), atomically.
Status WriteNpyInt64(const std::filesystem::path& path, const int64_t* data, int64_t n);

// Reads a 1-D '<i8' array, as WriteNpyInt64 writes it. Invalid, naming the
// file, for another dtype, another number of dimensions, or a short file.
Result<std::vector<int64_t>> ReadNpyInt64(const std::filesystem::path& path);

// Reads a 1-D or 2-D '<f2', '<f4' or '<f8' array in C order and converts it to
// float32 (float64 values are rounded; out-of-range ones become +-inf). A 1-D
// array of n values is returned as n rows x 1 column. Bytes after the array
// data are ignored, as numpy.load does.
//
// Invalid, naming the file, for: a file that does not start with the .npy
// magic bytes, an unsupported format version, a malformed header,
// fortran_order True, any other dtype, a shape with 0 or more than 2
// dimensions, and a file too short for its shape ("holds N bytes of data;
// shape (a, b) needs M").
Result<FloatMatrix> ReadNpyAsFloat32(const std::filesystem::path& path);

// A read-only memory map of a C-order '<f4' .npy file with 1 or 2 dimensions
// (1-D arrays of n values read as n x 1), giving the values without a copy.
//
// The mapping lives as long as the object: data() is valid until it is
// destroyed or moved from. Move-only. If the file is replaced through an
// atomic rename, the mapping keeps showing the old content; a file truncated
// in place while mapped makes reads past its new end fault, as with any mmap.
class MappedNpy {
 public:
  // Maps `path`. Fails as ReadNpyAsFloat32 does, and also for dtypes other
  // than '<f4' (convert those with ReadNpyAsFloat32 instead).
  static Result<MappedNpy> Open(const std::filesystem::path& path);

  MappedNpy(MappedNpy&& other) noexcept;
  MappedNpy& operator=(MappedNpy&& other) noexcept;
  MappedNpy(const MappedNpy&) = delete;
  MappedNpy& operator=(const MappedNpy&) = delete;
  ~MappedNpy();

  // rows() * cols() floats in row-major order. Not null even when empty.
  const float* data() const { return data_; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }

 private:
  MappedNpy() = default;
  void Unmap();

  void* base_ = nullptr;  // start of the mapping; null when moved from
  size_t length_ = 0;     // length of the mapping in bytes
  const float* data_ = nullptr;
  int64_t rows_ = 0;
  int64_t cols_ = 0;
};

// IEEE 754 binary16 <-> binary32 conversion.
//
// FloatToHalf rounds to nearest, ties to even; values whose magnitude rounds
// beyond 65504 become infinities, tiny values become float16 subnormals or
// signed zeros, and NaNs stay NaNs (quiet, sign and top payload bits kept).
// HalfToFloat is exact for every input, subnormals, infinities and NaNs
// included.
uint16_t FloatToHalf(float value);
float HalfToFloat(uint16_t half);

}  // namespace sextant::io
