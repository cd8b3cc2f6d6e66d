#include "server/export_columns.h"

#include "server/sample_query.h"
#include "table_fixture.h"
#include "testing.h"

namespace sextant::server {
namespace {

using testing::kLabels;

std::vector<ExportRow> Rows(const SampleTable& t, const std::vector<uint32_t>& rows) {
  std::vector<ExportRow> out;
  for (uint32_t r : rows) out.push_back({&t, r});
  return out;
}

TEST(ExportColumns, TheTableColumnsInTheirOrder) {
  auto t = testing::MakeTable(10, false);
  ASSERT_OK_AND_ASSIGN(
      auto columns,
      ParseExportColumns({"id", "pred", "confidence", "is_drifted", "meta.source"}, *t, kLabels));
  EXPECT_EQ(ExportCsvColumns(Rows(*t, {3, 0}), kLabels, columns),
            "id,pred,confidence,is_drifted,meta.source\r\n"
            "s3,pos,0.65,true,a\r\n"
            "s0,neg,0.5,true,a\r\n");
  EXPECT_EQ(ExportJsonlColumns(Rows(*t, {1}), kLabels, columns),
            "{\"id\":\"s1\",\"pred\":\"neg\",\"confidence\":0.55,\"is_drifted\":false,"
            "\"meta.source\":\"a\"}\n");
  // The metadata object and an absent metadata key.
  ASSERT_OK_AND_ASSIGN(columns, ParseExportColumns({"meta", "meta.nope"}, *t, kLabels));
  EXPECT_EQ(ExportCsvColumns(Rows(*t, {9}), kLabels, columns),
            "meta,meta.nope\r\n\"{\"\"source\"\":\"\"b\"\"}\",\r\n");
}

TEST(ExportColumns, AnUnknownColumnIsNamed) {
  auto t = testing::MakeTable(4, true);
  EXPECT_STATUS(ParseExportColumns({"id", "confidence", "colour"}, *t, kLabels), kInvalidArgument,
                "columns: unknown column 'colour'", "confidence", "meta.KEY");
}

TEST(ExportColumns, SortedAndLimitedLikeTheTable) {
  // The export runs the table's query: its sort, order and the top N.
  auto t = testing::MakeTable(20, false);
  Params params = {{"sort", "confidence"}, {"order", "desc"}, {"drifted", "true"}};
  ASSERT_OK_AND_ASSIGN(SampleRequest sr, ParseSampleParams(params, kLabels));
  sr.limit = 3;
  ASSERT_OK_AND_ASSIGN(SamplePage page, RunSampleQuery(*t, sr));
  EXPECT_EQ(ExportCsvColumns(Rows(*t, page.rows), kLabels, {"id"}), "id\r\ns18\r\ns15\r\ns12\r\n");
}

}  // namespace
}  // namespace sextant::server
