#include "io/npy.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "io/numpy_fixtures.h"
#include "testing.h"

namespace sextant::io {
namespace {

namespace fs = std::filesystem;
using ::sextant::testing::TempDir;
using namespace ::sextant::io::fixtures;  // NOLINT: the kNumpy* byte strings

void WriteBytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Expects `status` to be Invalid with every one of `parts` in its message.
void ExpectInvalid(const Status& status, std::initializer_list<std::string> parts) {
  EXPECT_TRUE(status.IsInvalid()) << status.ToString();
  for (const std::string& part : parts) {
    EXPECT_NE(status.message().find(part), std::string::npos)
        << "message: " << status.message() << "\nmissing: " << part;
  }
}

Status ReadStatus(const TempDir& dir, const std::string& name, const std::string& bytes) {
  fs::path path = dir.path() / name;
  WriteBytes(path, bytes);
  return ReadNpyAsFloat32(path).status();
}

// ----- Round trips --------------------------------------------------------

TEST(Npy, Float32RoundTrip) {
  TempDir dir;
  const std::vector<float> values = {0.f,
                                     -1.5f,
                                     3.25f,
                                     1e-30f,
                                     -1e30f,
                                     7.f,
                                     std::numeric_limits<float>::infinity(),
                                     std::numeric_limits<float>::denorm_min(),
                                     42.f};
  fs::path path = dir.path() / "x.npy";
  ASSERT_OK(WriteNpyFloat32(path, values.data(), 3, 3));
  ASSERT_OK_AND_ASSIGN(FloatMatrix m, ReadNpyAsFloat32(path));
  EXPECT_EQ(m.rows, 3);
  EXPECT_EQ(m.cols, 3);
  EXPECT_EQ(m.data, values);
}

TEST(Npy, Float16RoundTrip) {
  TempDir dir;
  // Exactly representable in float16, so they come back unchanged.
  const std::vector<float> exact = {0.f,
                                    -0.f,
                                    1.f,
                                    -2.5f,
                                    65504.f,
                                    -65504.f,
                                    0.099975586f,
                                    std::ldexp(1.f, -24),
                                    std::ldexp(1.f, -14)};
  fs::path path = dir.path() / "h.npy";
  ASSERT_OK(WriteNpyFloat16(path, exact.data(), 1, static_cast<int64_t>(exact.size())));
  ASSERT_OK_AND_ASSIGN(FloatMatrix m, ReadNpyAsFloat32(path));
  EXPECT_EQ(m.rows, 1);
  EXPECT_EQ(m.cols, static_cast<int64_t>(exact.size()));
  EXPECT_EQ(m.data, exact);
  EXPECT_TRUE(std::signbit(m.data[1]));
}

TEST(Npy, Float16RoundTripAcrossChunks) {
  // 1.2 MB of float16: more than one write chunk (1 MB) and read chunk (64 Ki values).
  TempDir dir;
  const int64_t rows = 1000, cols = 600;
  std::vector<float> values(rows * cols);
  for (size_t i = 0; i < values.size(); ++i) values[i] = std::sin(0.001f * static_cast<float>(i));
  fs::path path = dir.path() / "big.npy";
  ASSERT_OK(WriteNpyFloat16(path, values.data(), rows, cols));
  EXPECT_EQ(fs::file_size(path), 128u + 2u * rows * cols);
  ASSERT_OK_AND_ASSIGN(FloatMatrix m, ReadNpyAsFloat32(path));
  ASSERT_EQ(m.data.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_EQ(m.data[i], HalfToFloat(FloatToHalf(values[i]))) << i;
    ASSERT_NEAR(m.data[i], values[i], 1e-3) << i;
  }
}

TEST(Npy, Int64WriterMatchesNumpyBytes) {
  TempDir dir;
  const std::vector<int64_t> ids = {0, -1, int64_t{1} << 40, 7};
  fs::path path = dir.path() / "ids.npy";
  ASSERT_OK(WriteNpyInt64(path, ids.data(), 4));
  EXPECT_EQ(ReadBytes(path), kNumpyI64_4);
}

TEST(Npy, Int64RoundTripAndWrongArrays) {
  TempDir dir;
  const std::vector<int64_t> ids = {0, -1, int64_t{1} << 40, 7};
  ASSERT_OK(WriteNpyInt64(dir.path() / "ids.npy", ids.data(), 4));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> back, ReadNpyInt64(dir.path() / "ids.npy"));
  EXPECT_EQ(back, ids);
  ASSERT_OK(WriteNpyInt64(dir.path() / "none.npy", nullptr, 0));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> none, ReadNpyInt64(dir.path() / "none.npy"));
  EXPECT_TRUE(none.empty());
  const std::vector<float> f = {1, 2, 3, 4};
  ASSERT_OK(WriteNpyFloat32(dir.path() / "f.npy", f.data(), 2, 2));
  EXPECT_STATUS(ReadNpyInt64(dir.path() / "f.npy"), kInvalidArgument, "f.npy", "'<i8'");
  EXPECT_STATUS(ReadNpyInt64(dir.path() / "missing.npy"), kNotFound, "missing.npy");
  std::string bytes = ReadBytes(dir.path() / "ids.npy");
  bytes.resize(bytes.size() - 8);  // one value short
  std::ofstream(dir.path() / "short.npy", std::ios::binary) << bytes;
  EXPECT_STATUS(ReadNpyInt64(dir.path() / "short.npy"), kInvalidArgument, "short.npy", "truncated");
}

TEST(Npy, WritersMatchNumpyBytes) {
  TempDir dir;
  std::vector<float> f32 = {-1.f, -0.5f, 0.f, 0.5f, 1.f, 1.5f};
  ASSERT_OK(WriteNpyFloat32(dir.path() / "a.npy", f32.data(), 2, 3));
  EXPECT_EQ(ReadBytes(dir.path() / "a.npy"), kNumpyF32_2x3);

  std::vector<float> f16 = {1.f, -2.5f, 65504.f, 6e-8f, std::numeric_limits<float>::infinity(),
                            0.1f};
  ASSERT_OK(WriteNpyFloat16(dir.path() / "b.npy", f16.data(), 2, 3));
  EXPECT_EQ(ReadBytes(dir.path() / "b.npy"), kNumpyF16_2x3);

  ASSERT_OK(WriteNpyFloat32(dir.path() / "c.npy", nullptr, 0, 5));
  EXPECT_EQ(ReadBytes(dir.path() / "c.npy"), kNumpyF32Empty0x5);
}

TEST(Npy, HeaderIsAlignedForLargeShapes) {
  TempDir dir;
  // A long first dimension shrinks numpy's growth padding; the data must stay 64-aligned.
  for (int64_t rows : {1, 9, 10, 12345, 1234567}) {
    fs::path path = dir.path() / ("r" + std::to_string(rows) + ".npy");
    std::vector<float> v(static_cast<size_t>(rows), 1.f);
    ASSERT_OK(WriteNpyFloat32(path, v.data(), rows, 1));
    std::string bytes = ReadBytes(path);
    size_t header_end = bytes.find('\n') + 1;
    EXPECT_EQ(header_end % 64, 0u) << rows;
    EXPECT_EQ(bytes.size(), header_end + 4 * static_cast<size_t>(rows));
    ASSERT_OK_AND_ASSIGN(FloatMatrix m, ReadNpyAsFloat32(path));
    EXPECT_EQ(m.rows, rows);
  }
}

TEST(Npy, WriteReplacesAtomically) {
  TempDir dir;
  fs::path path = dir.path() / "x.npy";
  std::vector<float> a = {1.f, 2.f}, b = {3.f, 4.f, 5.f, 6.f};
  ASSERT_OK(WriteNpyFloat32(path, a.data(), 1, 2));
  ASSERT_OK(WriteNpyFloat32(path, b.data(), 2, 2));
  ASSERT_OK_AND_ASSIGN(FloatMatrix m, ReadNpyAsFloat32(path));
  EXPECT_EQ(m.data, b);
  // No temporary file is left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(Npy, WriteRejectsBadArguments) {
  TempDir dir;
  ExpectInvalid(WriteNpyFloat32(dir.path() / "x.npy", nullptr, -1, 2), {"x.npy", "(-1, 2)"});
  ExpectInvalid(WriteNpyFloat16(dir.path() / "x.npy", nullptr, 2, 2), {"x.npy", "null"});
  ExpectInvalid(WriteNpyInt64(dir.path() / "x.npy", nullptr, 3), {"x.npy", "null"});
  EXPECT_FALSE(fs::exists(dir.path() / "x.npy"));
  float v = 1.f;
  Status st = WriteNpyFloat32(dir.path() / "no-such-folder" / "x.npy", &v, 1, 1);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no-such-folder"), std::string::npos) << st.message();
}

// ----- Files written by numpy --------------------------------------------

TEST(Npy, ReadsNumpyFloat32) {
  TempDir dir;
  WriteBytes(dir.path() / "a.npy", kNumpyF32_2x3);
  ASSERT_OK_AND_ASSIGN(FloatMatrix m, ReadNpyAsFloat32(dir.path() / "a.npy"));
  EXPECT_EQ(m.rows, 2);
  EXPECT_EQ(m.cols, 3);
  EXPECT_EQ(m.data, (std::vector<float>{-1.f, -0.5f, 0.f, 0.5f, 1.f, 1.5f}));
}

TEST(Npy, ReadsNumpyFloat16) {
  TempDir dir;
  WriteBytes(dir.path() / "h.npy", kNumpyF16_2x3);
  ASSERT_OK_AND_ASSIGN(FloatMatrix m, ReadNpyAsFloat32(dir.path() / "h.npy"));
  EXPECT_EQ(m.rows, 2);
  EXPECT_EQ(m.cols, 3);
  ASSERT_EQ(m.data.size(), 6u);
  EXPECT_EQ(m.data[0], 1.f);
  EXPECT_EQ(m.data[1], -2.5f);
  EXPECT_EQ(m.data[2], 65504.f);
  EXPECT_EQ(m.data[3], std::ldexp(1.f, -24));  // 6e-8 is the smallest subnormal
  EXPECT_TRUE(std::isinf(m.data[4]) && m.data[4] > 0);
  EXPECT_EQ(m.data[5], 0.099975586f);
}

TEST(Npy, ReadsNumpyFloat64OneDimensionalAsColumn) {
  TempDir dir;
  WriteBytes(dir.path() / "d.npy", kNumpyF64_3);
  ASSERT_OK_AND_ASSIGN(FloatMatrix m, ReadNpyAsFloat32(dir.path() / "d.npy"));
  EXPECT_EQ(m.rows, 3);
  EXPECT_EQ(m.cols, 1);
  ASSERT_EQ(m.data.size(), 3u);
  EXPECT_EQ(m.data[0], 0.1f);
  EXPECT_TRUE(std::isinf(m.data[1]) && m.data[1] < 0);  // -1e40 is beyond float32
  EXPECT_EQ(m.data[2], 3.f);
}

TEST(Npy, ReadsFormatVersions2And3) {
  TempDir dir;
  WriteBytes(dir.path() / "v2.npy", kNumpyF32V2);
  ASSERT_OK_AND_ASSIGN(FloatMatrix v2, ReadNpyAsFloat32(dir.path() / "v2.npy"));
  EXPECT_EQ(v2.rows, 1);
  EXPECT_EQ(v2.cols, 2);
  EXPECT_EQ(v2.data, (std::vector<float>{1.5f, 2.5f}));
  WriteBytes(dir.path() / "v3.npy", kNumpyF32V3);
  ASSERT_OK_AND_ASSIGN(FloatMatrix v3, ReadNpyAsFloat32(dir.path() / "v3.npy"));
  EXPECT_EQ(v3.rows, 2);
  EXPECT_EQ(v3.cols, 1);
  EXPECT_EQ(v3.data, (std::vector<float>{1.5f, 2.5f}));
}

TEST(Npy, ReadsEmptyMatrix) {
  TempDir dir;
  WriteBytes(dir.path() / "e.npy", kNumpyF32Empty0x5);
  ASSERT_OK_AND_ASSIGN(FloatMatrix m, ReadNpyAsFloat32(dir.path() / "e.npy"));
  EXPECT_EQ(m.rows, 0);
  EXPECT_EQ(m.cols, 5);
  EXPECT_TRUE(m.data.empty());
}

TEST(Npy, ReadsHandWrittenHeaderVariants) {
  // Keys in another order, double quotes, a list shape, Python 2 "L" suffixes,
  // no trailing comma and no alignment padding: all valid Python literals.
  TempDir dir;
  std::string dict = "{\"shape\": [2L, 1L], \"fortran_order\": False, \"descr\": \"<f4\"}\n";
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes.push_back(static_cast<char>(dict.size()));
  bytes.push_back('\0');
  bytes += dict;
  float values[2] = {4.f, -8.f};
  bytes.append(reinterpret_cast<const char*>(values), sizeof(values));
  WriteBytes(dir.path() / "odd.npy", bytes);
  ASSERT_OK_AND_ASSIGN(FloatMatrix m, ReadNpyAsFloat32(dir.path() / "odd.npy"));
  EXPECT_EQ(m.rows, 2);
  EXPECT_EQ(m.cols, 1);
  EXPECT_EQ(m.data, (std::vector<float>{4.f, -8.f}));
}

// ----- Errors -------------------------------------------------------------

TEST(Npy, ErrorBadMagic) {
  TempDir dir;
  ExpectInvalid(ReadStatus(dir, "bad.npy", "PK\x03\x04 this is a zip, not an npy file"),
                {"bad.npy", "bad magic", "\\x93NUMPY"});
  ExpectInvalid(ReadStatus(dir, "empty.npy", ""), {"empty.npy", "empty"});
  ExpectInvalid(ReadStatus(dir, "short.npy", "\x93NUM"), {"short.npy", "bad magic"});
}

TEST(Npy, ErrorFortranOrder) {
  TempDir dir;
  ExpectInvalid(ReadStatus(dir, "f.npy", kNumpyF32Fortran),
                {"f.npy", "fortran_order is True", "expected a C-order array"});
}

TEST(Npy, ErrorUnsupportedDtype) {
  TempDir dir;
  ExpectInvalid(ReadStatus(dir, "i.npy", kNumpyI64_4),
                {"i.npy", "'<i8'; expected float16, float32 or float64"});
  ExpectInvalid(ReadStatus(dir, "be.npy", kNumpyF32BigEndian),
                {"be.npy", "'>f4'; expected float16, float32 or float64"});
  // A structured dtype has a list as its descr.
  std::string dict =
      "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, "
      "'shape': (1,), }\n";
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(dict.size()) + '\0' +
                      dict + std::string(8, '\0');
  ExpectInvalid(ReadStatus(dir, "s.npy", bytes),
                {"s.npy", "[('a', '<f4'), ('b', '<i4')]", "expected float16, float32 or float64"});
}

TEST(Npy, ErrorThreeDimensions) {
  TempDir dir;
  ExpectInvalid(ReadStatus(dir, "t.npy", kNumpyF32_3d),
                {"t.npy", "shape (1, 2, 3) has 3 dimensions", "expected 1"});
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (), }\n";
  std::string scalar = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(dict.size()) + '\0' +
                       dict + std::string(4, '\0');
  ExpectInvalid(ReadStatus(dir, "scalar.npy", scalar), {"scalar.npy", "shape () has 0 dimensions"});
}

TEST(Npy, ErrorTruncatedData) {
  TempDir dir;
  std::string cut = kNumpyF32_2x3.substr(0, kNumpyF32_2x3.size() - 4);
  ExpectInvalid(ReadStatus(dir, "cut.npy", cut),
                {"cut.npy", "holds 20 bytes of data; shape (2, 3) needs 24"});
  std::string cut1d = kNumpyF64_3.substr(0, kNumpyF64_3.size() - 1);
  ExpectInvalid(ReadStatus(dir, "cut1d.npy", cut1d),
                {"cut1d.npy", "holds 23 bytes of data; shape (3,) needs 24"});
  // Header cut off in the middle.
  ExpectInvalid(ReadStatus(dir, "hdr.npy", kNumpyF32_2x3.substr(0, 50)),
                {"hdr.npy", "truncated .npy header"});
}

TEST(Npy, ErrorHugeShapeDoesNotOverflow) {
  TempDir dir;
  std::string dict =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (999999999999999999, 999999999), }\n";
  std::string bytes =
      std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(dict.size()) + '\0' + dict;
  ExpectInvalid(ReadStatus(dir, "huge.npy", bytes), {"huge.npy", "holds 0 bytes of data"});
}

TEST(Npy, ErrorUnsupportedVersionAndMalformedHeader) {
  TempDir dir;
  std::string v9 = kNumpyF32_2x3;
  v9[6] = '\x09';
  ExpectInvalid(ReadStatus(dir, "v9.npy", v9),
                {"v9.npy", "version 9.0", "expected 1.0, 2.0 or 3.0"});
  std::string garbled = kNumpyF32_2x3;
  garbled.replace(garbled.find("False"), 5, "Nope!");
  ExpectInvalid(ReadStatus(dir, "g.npy", garbled),
                {"g.npy", "malformed .npy header", "expected True or False"});
  std::string no_shape = kNumpyF32_2x3;
  no_shape.replace(no_shape.find("'shape'"), 7, "'shapf'");
  ExpectInvalid(ReadStatus(dir, "ns.npy", no_shape), {"ns.npy", "no 'shape' key"});
}

TEST(Npy, ErrorMissingFileIsNotFound) {
  TempDir dir;
  auto r = ReadNpyAsFloat32(dir.path() / "missing.npy");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("missing.npy"), std::string::npos);
  auto m = MappedNpy::Open(dir.path() / "missing.npy");
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(m.status().IsNotFound()) << m.status().ToString();
  // A folder is not a file.
  auto d = ReadNpyAsFloat32(dir.path());
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(d.status().IsInvalid()) << d.status().ToString();
}

// ----- MappedNpy ----------------------------------------------------------

TEST(Npy, MappedReadsWithoutCopy) {
  TempDir dir;
  std::vector<float> values(5 * 7);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.25f;
  fs::path path = dir.path() / "emb.npy";
  ASSERT_OK(WriteNpyFloat32(path, values.data(), 5, 7));
  ASSERT_OK_AND_ASSIGN(MappedNpy mapped, MappedNpy::Open(path));
  EXPECT_EQ(mapped.rows(), 5);
  EXPECT_EQ(mapped.cols(), 7);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(mapped.data()) % 64, 0u);  // page + 64-byte header
  EXPECT_EQ(std::vector<float>(mapped.data(), mapped.data() + 35), values);

  // Moving transfers the mapping; the source is left empty.
  const float* p = mapped.data();
  MappedNpy moved = std::move(mapped);
  EXPECT_EQ(moved.data(), p);
  EXPECT_EQ(moved.rows(), 5);
  EXPECT_EQ(mapped.data(), nullptr);  // NOLINT(bugprone-use-after-move): documented state
  EXPECT_EQ(mapped.rows(), 0);        // NOLINT

  // Move-assigning over a live mapping releases the old one.
  WriteBytes(dir.path() / "numpy.npy", kNumpyF32_2x3);
  ASSERT_OK_AND_ASSIGN(MappedNpy other, MappedNpy::Open(dir.path() / "numpy.npy"));
  moved = std::move(other);
  EXPECT_EQ(moved.rows(), 2);
  EXPECT_EQ(moved.cols(), 3);
  EXPECT_EQ(moved.data()[5], 1.5f);
}

TEST(Npy, MappedOneDimensionalAndEmpty) {
  TempDir dir;
  WriteBytes(dir.path() / "v3.npy", kNumpyF32V3);
  ASSERT_OK_AND_ASSIGN(MappedNpy v3, MappedNpy::Open(dir.path() / "v3.npy"));
  EXPECT_EQ(v3.rows(), 2);
  EXPECT_EQ(v3.cols(), 1);
  EXPECT_EQ(v3.data()[1], 2.5f);
  WriteBytes(dir.path() / "e.npy", kNumpyF32Empty0x5);
  ASSERT_OK_AND_ASSIGN(MappedNpy e, MappedNpy::Open(dir.path() / "e.npy"));
  EXPECT_EQ(e.rows(), 0);
  EXPECT_EQ(e.cols(), 5);
  EXPECT_NE(e.data(), nullptr);
}

TEST(Npy, MappedErrors) {
  TempDir dir;
  WriteBytes(dir.path() / "h.npy", kNumpyF16_2x3);
  ExpectInvalid(MappedNpy::Open(dir.path() / "h.npy").status(),
                {"h.npy", "'<f2'", "expected float32 ('<f4')"});
  WriteBytes(dir.path() / "i.npy", kNumpyI64_4);
  ExpectInvalid(MappedNpy::Open(dir.path() / "i.npy").status(), {"i.npy", "'<i8'"});
  WriteBytes(dir.path() / "cut.npy", kNumpyF32_2x3.substr(0, kNumpyF32_2x3.size() - 4));
  ExpectInvalid(MappedNpy::Open(dir.path() / "cut.npy").status(),
                {"cut.npy", "holds 20 bytes of data; shape (2, 3) needs 24"});
  WriteBytes(dir.path() / "f.npy", kNumpyF32Fortran);
  ExpectInvalid(MappedNpy::Open(dir.path() / "f.npy").status(), {"f.npy", "fortran_order"});
  WriteBytes(dir.path() / "t.npy", kNumpyF32_3d);
  ExpectInvalid(MappedNpy::Open(dir.path() / "t.npy").status(), {"t.npy", "3 dimensions"});
  WriteBytes(dir.path() / "empty.npy", "");
  ExpectInvalid(MappedNpy::Open(dir.path() / "empty.npy").status(), {"empty.npy", "empty"});
  WriteBytes(dir.path() / "bad.npy", "not an npy file at all");
  ExpectInvalid(MappedNpy::Open(dir.path() / "bad.npy").status(), {"bad.npy", "bad magic"});
}

// ----- float16 conversion -------------------------------------------------

TEST(Npy, HalfConversionMatchesNumpy) {
  // {float32 bits, numpy's float16 bits}, from np.float32(x).astype(np.float16).
  struct Case {
    uint32_t f;
    uint16_t h;
  };
  const Case cases[] = {
      {0x00000000u, 0x0000u}, {0x80000000u, 0x8000u}, {0x3f800000u, 0x3c00u},
      {0xbf800000u, 0xbc00u}, {0x3dcccccdu, 0x2e66u}, {0x3eaaaaabu, 0x3555u},
      {0x477fe000u, 0x7bffu}, {0x477feffdu, 0x7bffu}, {0x477ff000u, 0x7c00u},
      {0x47800000u, 0x7c00u}, {0x501502f9u, 0x7c00u}, {0xd01502f9u, 0xfc00u},
      {0x38800000u, 0x0400u}, {0x387f6ee1u, 0x03feu}, {0x337ffae5u, 0x0001u},
      {0x32fffae5u, 0x0000u}, {0x33000000u, 0x0000u}, {0x33000001u, 0x0001u},
      {0x33c00000u, 0x0002u}, {0x322bcc77u, 0x0000u}, {0x0da24260u, 0x0000u},
      {0x3f801000u, 0x3c00u}, {0x3f803000u, 0x3c02u}, {0x3f802000u, 0x3c01u},
      {0x45001000u, 0x6800u}, {0x45003000u, 0x6802u}, {0x7f800000u, 0x7c00u},
      {0xff800000u, 0xfc00u}, {0x00000001u, 0x0000u}, {0x38000000u, 0x0200u},
      {0xb6fba882u, 0x807eu}, {0x4640e6b6u, 0x7207u}, {0x3f004000u, 0x3802u},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(FloatToHalf(std::bit_cast<float>(c.f)), c.h) << std::hex << "float bits 0x" << c.f;
  }
}

TEST(Npy, HalfToFloatIsExactForEveryHalf) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    const bool nan = ((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff) != 0;
    if (nan) {
      ASSERT_TRUE(std::isnan(f)) << h;
      ASSERT_TRUE(std::isnan(HalfToFloat(FloatToHalf(f)))) << h;
      ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << h;
      continue;
    }
    ASSERT_EQ(FloatToHalf(f), h) << std::hex << h;
  }
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.f, -24));
  EXPECT_EQ(HalfToFloat(0x03ff), std::ldexp(1023.f, -24));
  EXPECT_EQ(HalfToFloat(0x7bff), 65504.f);
  EXPECT_EQ(HalfToFloat(0xfc00), -std::numeric_limits<float>::infinity());
}

TEST(Npy, FloatToHalfRoundsToNearestEven) {
  // Over a sample of all finite floats, the result is the nearest float16
  // (ties to the even one), checked in double precision against its neighbours.
  const double kMaxHalf = 65504.0;
  for (uint64_t bits = 0; bits < 0x7f800000u; bits += 997) {
    for (float sign : {1.f, -1.f}) {
      const float x = sign * std::bit_cast<float>(static_cast<uint32_t>(bits));
      const uint16_t h = FloatToHalf(x);
      const double got = HalfToFloat(h);
      const double ax = std::fabs(static_cast<double>(x));
      if (ax >= 65520.0) {  // halfway between 65504 and 65536 and beyond: infinity
        ASSERT_TRUE(std::isinf(got)) << x;
        continue;
      }
      ASSERT_LE(std::fabs(got), kMaxHalf) << x;
      ASSERT_EQ(std::signbit(got), std::signbit(x)) << x;
      const double err = std::fabs(got - x);
      // Neighbouring halves of the same sign.
      const uint16_t mag = h & 0x7fff;
      for (int d : {-1, 1}) {
        if ((mag == 0 && d < 0) || (mag == 0x7bff && d > 0)) continue;
        const uint16_t n = static_cast<uint16_t>((h & 0x8000) | (mag + d));
        const double nerr = std::fabs(static_cast<double>(HalfToFloat(n)) - x);
        ASSERT_LE(err, nerr) << "x=" << x << " h=" << h << " neighbour=" << n;
        if (err == nerr) {
          ASSERT_EQ(h & 1, 0) << "tie not to even: x=" << x;
        }
      }
    }
  }
}

TEST(Npy, FloatToHalfSpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(FloatToHalf(inf), 0x7c00);
  EXPECT_EQ(FloatToHalf(-inf), 0xfc00);
  EXPECT_EQ(FloatToHalf(1e6f), 0x7c00);
  EXPECT_EQ(FloatToHalf(-0.f), 0x8000);
  EXPECT_EQ(FloatToHalf(1e-10f), 0x0000);
  EXPECT_EQ(FloatToHalf(-1e-10f), 0x8000);
  const uint16_t qnan = FloatToHalf(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(qnan & 0x7c00, 0x7c00);
  EXPECT_NE(qnan & 0x03ff, 0);
  // A signalling NaN whose payload lives only in the low bits stays a NaN.
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(std::bit_cast<float>(0x7f800001u)))));
  EXPECT_TRUE(std::signbit(HalfToFloat(FloatToHalf(std::bit_cast<float>(0xffc00000u)))));
}

}  // namespace
}  // namespace sextant::io
