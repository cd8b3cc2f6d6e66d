// The CSV reader (src/io/table.h): every row has the header's width, and what
// WriteCsvRow writes reads back the same.
#include <sstream>

#include "fuzz_util.h"
#include "io/table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sextant;
  auto table = io::ReadCsv(fuzz::WriteInput(data, size, "input.csv"));
  if (!table.ok()) return 0;
  SEXTANT_FUZZ_CHECK(!table->columns.empty());
  SEXTANT_FUZZ_CHECK(table->is_null.size() == table->rows.size());
  for (const auto& row : table->rows) SEXTANT_FUZZ_CHECK(row.size() == table->columns.size());
  std::ostringstream out;
  io::WriteCsvRow(out, table->columns);
  for (const auto& row : table->rows) io::WriteCsvRow(out, row);
  const std::string text = out.str();
  auto again = io::ReadCsv(
      fuzz::WriteInput(reinterpret_cast<const uint8_t*>(text.data()), text.size(), "again.csv"));
  SEXTANT_FUZZ_CHECK(again.ok());
  SEXTANT_FUZZ_CHECK(again->columns == table->columns);
  // Rows that are all empty fields but one column are written as "" and read back.
  SEXTANT_FUZZ_CHECK(again->rows == table->rows);
  return 0;
}
