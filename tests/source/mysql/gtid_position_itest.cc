// FindMariadbGtidPosition against a real MariaDB: every GTID state the
// stream passes through is found at the file:offset where the stream
// committed it, across a rotated file; a GTID the server never logged is
// NotFound, not a nearby place.

#include "source/mysql/gtid_position.h"

#include <gtest/gtest.h>

#include "harness/mariadb_server.h"
#include "source/mysql/binlog_file_source.h"
#include "source/mysql/recording_handler.h"

namespace sluice::mysql {
namespace {

using testing::MariadbServer;

TEST(GtidPositionTest, EveryCommittedStateIsFoundWhereTheStreamCommittedIt) {
  auto s = MariadbServer::Start({});
  ASSERT_TRUE(s.ok()) << s.status().message();
  MariadbServer& server = **s;
  ASSERT_TRUE(server.Execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY)").ok());
  for (int i = 1; i <= 12; ++i) {
    ASSERT_TRUE(server.Execute(fmt::format("INSERT INTO shop.t VALUES ({})", i)).ok());
    if (i % 5 == 0) {
      ASSERT_TRUE(server.Execute("FLUSH BINARY LOGS").ok());
    }
  }
  // Another domain's transaction in the middle: positions name every domain.
  ASSERT_TRUE(server.Execute("SET gtid_domain_id = 7; INSERT INTO shop.t VALUES (100); SET gtid_domain_id = 0").ok());
  ASSERT_TRUE(server.Execute("INSERT INTO shop.t VALUES (13)").ok());

  // The binlog files as the capture reads them: each commit's position and state.
  testing::RecordingHandler h;
  BinlogFileSource::Options fo;
  fo.path = server.datadir() + "/binlog.000001";
  BinlogFileSource files(fo);
  std::atomic<bool> stop{false};
  Status st = files.Run(h, stop);
  ASSERT_EQ(st.code(), StatusCode::kEndOfStream) << st.message();
  ASSERT_GE(h.commit_positions.size(), 15u);

  ConnectOptions co = *ConnectOptions::FromUrl(*Url::Parse(server.Url()));
  size_t checked = 0;
  for (size_t i = 0; i < h.commit_positions.size(); ++i) {
    auto gtids = MariadbGtidList::Parse(h.gtid_states[i]);
    ASSERT_TRUE(gtids.ok()) << h.gtid_states[i];
    // A state repeated by a following commit without a GTID is found at the first.
    if (i > 0 && h.gtid_states[i] == h.gtid_states[i - 1]) continue;
    auto at = FindMariadbGtidPosition(co, *gtids);
    ASSERT_TRUE(at.ok()) << h.gtid_states[i] << ": " << at.status().message();
    std::string found = at->ToString();
    // At the end of a file is the same place as the start of the next one.
    if (found != h.commit_positions[i]) {
      EXPECT_EQ(at->offset, 4u) << h.gtid_states[i] << " found at " << found << ", committed at "
                                << h.commit_positions[i];
    }
    ++checked;
    auto conn = MysqlConnection::Connect(co);
    ASSERT_TRUE(conn.ok());
    auto here = BinlogPositionIsAt(**conn, *at, *gtids);
    ASSERT_TRUE(here.ok()) << here.status().message();
    EXPECT_TRUE(*here) << found << " is not at " << h.gtid_states[i];
  }
  EXPECT_GE(checked, 14u);

  for (const char* missing : {"0-1-999", "0-2-5,7-1-1", "3-1-1"}) {
    auto at = FindMariadbGtidPosition(co, *MariadbGtidList::Parse(missing));
    EXPECT_EQ(at.status().code(), StatusCode::kNotFound) << missing << " found at " << (at.ok() ? at->ToString() : "");
  }
}

}  // namespace
}  // namespace sluice::mysql
