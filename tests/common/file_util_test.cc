#include "common/file_util.h"

#include "testing.h"

namespace sextant {
namespace {

TEST(WriteFileAtomic, ReplacesContentAndLeavesNoTemporaries) {
  testing::TempDir dir;
  auto path = dir.path() / "meta.json";
  ASSERT_OK(WriteFileAtomic(path, "old"));
  ASSERT_OK(WriteFileAtomic(path, "new"));
  ASSERT_OK_AND_ASSIGN(std::string content, ReadFileToString(path));
  EXPECT_EQ(content, "new");
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(WriteAtomicWith, FailedWriterKeepsTheOldFile) {
  testing::TempDir dir;
  auto path = dir.path() / "a.bin";
  ASSERT_OK(WriteFileAtomic(path, "kept"));
  Status st = WriteAtomicWith(
      path, [](const std::filesystem::path&) { return Status::IOError("disk full"); });
  EXPECT_FALSE(st.ok());
  ASSERT_OK_AND_ASSIGN(std::string content, ReadFileToString(path));
  EXPECT_EQ(content, "kept");
}

}  // namespace
}  // namespace sextant
