// The .npy reader (src/io/npy.h): both ReadNpyAsFloat32 and MappedNpy::Open
// on arbitrary bytes; a result's size must match its shape.
#include "fuzz_util.h"
#include "io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sextant;
  const auto path = fuzz::WriteInput(data, size, "input.npy");
  if (auto m = io::ReadNpyAsFloat32(path); m.ok()) {
    SEXTANT_FUZZ_CHECK(m->rows >= 0 && m->cols >= 0);
    SEXTANT_FUZZ_CHECK(static_cast<int64_t>(m->data.size()) == m->rows * m->cols);
  }
  if (auto m = io::MappedNpy::Open(path); m.ok()) {
    double sum = 0;  // touches every value: a shape past the file's end faults here
    for (int64_t i = 0; i < m->rows() * m->cols(); ++i) sum += m->data()[i];
    (void)sum;
  }
  return 0;
}
