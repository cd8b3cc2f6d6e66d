// The JSON Lines reader (src/io/table.h): a table whose rows and null masks
// all have one cell per column.
#include "fuzz_util.h"
#include "io/table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sextant;
  auto table = io::ReadJsonl(fuzz::WriteInput(data, size, "input.jsonl"));
  if (!table.ok()) return 0;
  SEXTANT_FUZZ_CHECK(table->is_null.size() == table->rows.size());
  for (size_t i = 0; i < table->rows.size(); ++i) {
    SEXTANT_FUZZ_CHECK(table->rows[i].size() == table->columns.size());
    SEXTANT_FUZZ_CHECK(table->is_null[i].size() == table->columns.size());
  }
  return 0;
}
