#include "server/static_files.h"

#include <fstream>

#include "testing.h"

namespace sextant::server {
namespace {

namespace fs = std::filesystem;
using sextant::testing::TempDir;

void Write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

TEST(StaticFiles, DecodesSegments) {
  EXPECT_EQ(
      DecodePath("/api/runs/p/r/samples/inference%3Aprod/a%2Fb?x=1"),
      (std::vector<std::string>{"api", "runs", "p", "r", "samples", "inference:prod", "a/b"}));
  EXPECT_FALSE(DecodePath("/bad%zz").has_value());
  EXPECT_FALSE(DecodePath("/bad%2").has_value());
  EXPECT_EQ(DecodeSegment("a+b"), "a+b");
}

TEST(StaticFiles, ServesFilesAndFallsBackToIndex) {
  TempDir tmp;
  const fs::path dist = tmp.path() / "dist";
  Write(dist / "index.html", "<html>");
  Write(dist / "assets" / "app.js", "js");
  auto t = ResolveStatic(dist, "/assets/app.js?v=1");
  EXPECT_EQ(t.kind, StaticKind::kFile);
  EXPECT_EQ(t.path.filename(), "app.js");
  EXPECT_EQ(ResolveStatic(dist, "/").kind, StaticKind::kFile);
  t = ResolveStatic(dist, "/runs/demo/sentiment");
  EXPECT_EQ(t.kind, StaticKind::kIndex);
  EXPECT_EQ(t.path.filename(), "index.html");
  EXPECT_EQ(ContentTypeFor("a.js"), "text/javascript; charset=utf-8");
}

TEST(StaticFiles, NeverLeavesTheFolder) {
  TempDir tmp;
  const fs::path dist = tmp.path() / "dist";
  Write(dist / "index.html", "<html>");
  Write(tmp.path() / "secret.txt", "secret");
  fs::create_directories(tmp.path() / "outside");
  Write(tmp.path() / "outside" / "x.txt", "x");
  fs::create_symlink(tmp.path() / "secret.txt", dist / "link.txt");
  fs::create_directory_symlink(tmp.path() / "outside", dist / "out");
  for (const char* target : {"/../secret.txt", "/..%2fsecret.txt", "/%2e%2e/secret.txt",
                             "/assets/../../secret.txt", "/%2E%2E%2Fsecret.txt", "/link.txt",
                             "/out/x.txt", "/a%00b", "/..\\secret.txt", "/%5c..%5csecret.txt"}) {
    EXPECT_EQ(ResolveStatic(dist, target).kind, StaticKind::kRefused) << target;
  }
}

TEST(StaticFiles, ReportsAMissingBuild) {
  TempDir tmp;
  EXPECT_EQ(ResolveStatic(tmp.path() / "nope", "/").kind, StaticKind::kNotBuilt);
  EXPECT_EQ(ResolveStatic(tmp.path() / "nope", "/../x").kind, StaticKind::kRefused);
}

}  // namespace
}  // namespace sextant::server
