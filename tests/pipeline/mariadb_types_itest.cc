// MariaDB's UUID, INET4 and INET6 columns: the binlog types them BINARY(16)
// and BINARY(4); the stream gives their values as the text the server shows
// (as a snapshot reads them), so a MySQL target and a JSON file target get
// the same values as `SELECT` on the source, whatever the bytes (trailing
// zero bytes, which the binlog strips, included).

#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "pipeline/sync_fixture.h"

namespace sluice::testing {
namespace {

TEST_F(SyncTest, MariadbUuidAndInetValuesAreTheTextTheServerShows) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.hosts (id INT PRIMARY KEY, u UUID, "
                           "a4 INET4, a6 INET6, k UUID NOT NULL, UNIQUE KEY (k))")
                  .ok());
  const std::string out = (dir_ / "changes.jsonl").string();
  WriteConfig(WithFileTarget(OneToOneConfig(dir_.string(), *src, *dst), out));
  StartSluice();
  ASSERT_TRUE(src->Execute(
                     "INSERT INTO shop.hosts VALUES "
                     "(1, UUID(), '10.0.0.0', '2001:db8::1', '123e4567-e89b-12d3-a456-426655440000'), "
                     "(2, NULL, '0.0.0.0', '::', '00000000-0000-0000-0000-000000000000'), "
                     "(3, '6ccd780c-baba-1026-9564-5b8c656024db', '255.255.255.255', '::ffff:1.2.3.4', UUID()), "
                     "(4, UUID(), NULL, '2001:db8:0:0:1:0:0:1', 'ffffffff-ffff-ffff-ffff-ffffffffffff'), "
                     "(5, UUID(), '192.168.1.1', '::1', UUID()), (6, UUID(), '1.0.0.0', 'fe80::1:2', UUID()), "
                     "(7, UUID(), '1.2.3.4', '::1.2.3.4', UUID()); "
                     "UPDATE shop.hosts SET a6 = '1::', u = '00000000-0000-0000-0000-000000000001' WHERE id = 2")
                  .ok());
  const std::string q = "SELECT id, u, a4, a6, k FROM shop.hosts ORDER BY id";
  ASSERT_TRUE(Converges(*src, q, *dst, q));
  // The file target's last image of each row, as the source shows it.
  auto rows = src->Query(q);
  ASSERT_TRUE(rows.ok());
  std::map<std::string, nlohmann::json> last;
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::ifstream in(out);
        std::string line;
        size_t n = 0;
        while (std::getline(in, line)) {
          auto j = nlohmann::json::parse(line, nullptr, false);
          if (j.is_object() && j["table"] == "hosts" && j["after"].is_object()) {
            last[std::to_string(j["after"]["id"].get<int>())] = j["after"];
            ++n;
          }
        }
        return n == 8;
      },
      std::chrono::seconds(30)));
  const char* names[] = {"id", "u", "a4", "a6", "k"};
  for (const auto& row : *rows) {
    const nlohmann::json& after = last[*row[0]];
    for (size_t c = 1; c < 5; ++c) {
      if (!row[c]) {
        EXPECT_TRUE(after[names[c]].is_null()) << names[c] << " of row " << *row[0] << ": " << after.dump();
      } else {
        EXPECT_EQ(after[names[c]], *row[c]) << names[c] << " of row " << *row[0];
      }
    }
  }
}

}  // namespace
}  // namespace sluice::testing
