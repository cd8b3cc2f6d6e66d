// KeyStore (server/keys.h): keys are stored hashed, revocable, unique by name,
// and a presented key is accepted only when it is exactly an active one.
#include "server/keys.h"

#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "common/file_util.h"
#include "query/check.h"
#include "sextant/results.h"
#include "small_run.h"
#include "store/sqlite.h"
#include "testing.h"

namespace sextant::server {
namespace {

namespace fs = std::filesystem;
using sextant::testing::TempDir;

TEST(KeyStore, CreatedKeyAuthenticatesAsItsPrincipal) {
  TempDir tmp;
  auto keys = KeyStore::Open(tmp.path());
  ASSERT_OK(keys.status());
  ASSERT_TRUE(*(*keys)->Empty());
  auto secret = (*keys)->Create("ci", Role::kWrite, {"b", "a", "a"});
  ASSERT_OK(secret.status());
  EXPECT_EQ(secret->rfind("sxk_", 0), 0u) << *secret;
  EXPECT_FALSE(*(*keys)->Empty());
  auto p = (*keys)->Authenticate(*secret);
  ASSERT_OK(p.status());
  EXPECT_EQ(p->key_name, "ci");
  EXPECT_EQ(p->role, Role::kWrite);
  EXPECT_EQ(p->projects, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(p->CanWrite("a"));
  EXPECT_FALSE(p->CanRead("c"));
  // Another process (a second store over the same root) sees the key too.
  auto other = KeyStore::Open(tmp.path());
  ASSERT_OK(other.status());
  EXPECT_OK((*other)->Authenticate(*secret).status());
}

TEST(KeyStore, StoresOnlyAHashNeverTheSecret) {
  TempDir tmp;
  std::string secret;
  {
    auto keys = KeyStore::Open(tmp.path());
    ASSERT_OK(keys.status());
    auto s = (*keys)->Create("ops", Role::kAdmin, {});
    ASSERT_OK(s.status());
    secret = *s;
  }
  // Neither the whole key nor its secret part is anywhere in the database files.
  const std::string secret_part = secret.substr(secret.rfind('_') + 1);
  ASSERT_EQ(secret_part.size(), 64u);
  for (const auto& entry : fs::directory_iterator(tmp.path() / ".server")) {
    auto text = ReadFileToString(entry.path());
    ASSERT_OK(text.status());
    EXPECT_EQ(text->find(secret_part), std::string::npos) << entry.path();
  }
  auto db = store::Database::Open(tmp.path() / ".server" / "server.db", false);
  ASSERT_OK(db.status());
  auto st = (*db)->Prepare("SELECT length(key_sha256) FROM api_keys WHERE name = 'ops'");
  ASSERT_OK(st.status());
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->Int(0), 32);  // a SHA-256
  // The server's folder is the owner's only.
  struct stat s {};
  ASSERT_EQ(stat((tmp.path() / ".server").c_str(), &s), 0);
  EXPECT_EQ(s.st_mode & 0777, 0700);
}

TEST(KeyStore, RejectsAnyKeyThatIsNotExactlyAnActiveOne) {
  TempDir tmp;
  auto keys = KeyStore::Open(tmp.path());
  ASSERT_OK(keys.status());
  auto secret = (*keys)->Create("ci", Role::kRead, {});
  ASSERT_OK(secret.status());
  std::string flipped = *secret;
  flipped.back() = flipped.back() == '0' ? '1' : '0';  // same id, wrong secret
  std::string other_id = *secret;
  other_id[4] = other_id[4] == '0' ? '1' : '0';  // right secret, another row id
  for (const std::string& bad :
       {std::string(), std::string("sxk_"), flipped, other_id, secret->substr(0, 40), *secret + "0",
        std::string("Bearer ") + *secret, std::string("token")}) {
    SCOPED_TRACE(bad);
    EXPECT_STATUS((*keys)->Authenticate(bad).status(), kUnauthenticated);
  }
  // Unknown and wrong keys get the same words: the answer never says which.
  EXPECT_EQ((*keys)->Authenticate(flipped).status().message(),
            (*keys)->Authenticate("sxk_000000000000_x").status().message());
}

TEST(KeyStore, RevokedKeyNoLongerAuthenticates) {
  TempDir tmp;
  auto keys = KeyStore::Open(tmp.path());
  ASSERT_OK(keys.status());
  auto a = (*keys)->Create("a", Role::kAdmin, {});
  auto b = (*keys)->Create("b", Role::kRead, {"p"});
  ASSERT_OK(a.status());
  ASSERT_OK(b.status());
  ASSERT_OK((*keys)->Revoke("a"));
  ASSERT_OK((*keys)->Revoke("a"));  // twice is fine
  EXPECT_STATUS((*keys)->Authenticate(*a).status(), kUnauthenticated);
  EXPECT_OK((*keys)->Authenticate(*b).status());
  EXPECT_FALSE(*(*keys)->Empty());
  ASSERT_OK((*keys)->Revoke("b"));
  EXPECT_TRUE(*(*keys)->Empty());  // revoked keys are not active keys
  EXPECT_STATUS((*keys)->Revoke("nobody"), kNotFound);
  auto list = (*keys)->List();
  ASSERT_OK(list.status());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "a");
  EXPECT_TRUE((*list)[0].revoked);
  EXPECT_EQ((*list)[1].projects, std::vector<std::string>{"p"});
  EXPECT_EQ((*list)[1].role, Role::kRead);
  EXPECT_TRUE((*list)[1].last_used_at.has_value());  // b authenticated above
  EXPECT_GT((*list)[0].created_at, 0);
}

TEST(KeyStore, NamesAreValidatedAndUnique) {
  TempDir tmp;
  auto keys = KeyStore::Open(tmp.path());
  ASSERT_OK(keys.status());
  ASSERT_OK((*keys)->Create("ci", Role::kRead, {}).status());
  EXPECT_STATUS((*keys)->Create("ci", Role::kAdmin, {}).status(), kAlreadyExists);
  ASSERT_OK((*keys)->Revoke("ci"));
  // A revoked key keeps its name: a name always means one key.
  EXPECT_STATUS((*keys)->Create("ci", Role::kAdmin, {}).status(), kAlreadyExists);
  EXPECT_STATUS((*keys)->Create("", Role::kRead, {}).status(), kInvalidArgument);
  EXPECT_STATUS((*keys)->Create("a b", Role::kRead, {}).status(), kInvalidArgument);
  EXPECT_STATUS((*keys)->Create(".hidden", Role::kRead, {}).status(), kInvalidArgument);
  EXPECT_STATUS((*keys)->Create("ok", Role::kRead, {"../etc"}).status(), kInvalidArgument);
  EXPECT_STATUS(ParseRole("owner").status(), kInvalidArgument);
  EXPECT_EQ(*ParseRole("write"), Role::kWrite);
}

TEST(KeyStore, TheServerFolderIsNeverListedAsAProject) {
  TempDir tmp;
  LogAndFinishSmallRun(tmp.path(), 12);
  ASSERT_OK(KeyStore::Open(tmp.path()).status());
  // Run-like folders under .server (e.g. an upload being staged) are the
  // server's, not a project's damaged runs.
  fs::create_directories(tmp.path() / ".server" / "staged" / "outputs");
  auto runs = ListRuns(tmp.path());
  ASSERT_OK(runs.status());
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].project, "p");
  auto checked = CheckStore(tmp.path(), std::nullopt, std::nullopt);
  ASSERT_OK(checked.status());
  ASSERT_EQ(checked->size(), 1u);
  EXPECT_EQ((*checked)[0].project, "p");
}

TEST(KeyStore, AuthenticatesFromManyThreads) {
  TempDir tmp;
  auto keys = KeyStore::Open(tmp.path());
  ASSERT_OK(keys.status());
  auto secret = (*keys)->Create("ci", Role::kRead, {});
  ASSERT_OK(secret.status());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if ((*keys)->Authenticate(*secret).ok()) ++ok;
        (void)(*keys)->Authenticate("sxk_wrong");
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8 * 200);
}

}  // namespace
}  // namespace sextant::server
