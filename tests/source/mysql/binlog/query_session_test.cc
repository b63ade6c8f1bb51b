// The session a MySQL 8 source ran a DDL statement in, as its QUERY event's
// status variables log it (events built by hand after a real MySQL 8.0.31
// FORMAT_DESCRIPTION; MariaDB's are read from a live server in
// SyncTest.TimestampColumnsTakeTheSourcesExplicitDefaultsSetting).

#include <gtest/gtest.h>

#include "source/mysql/binlog/crafted_events.h"
#include "source/mysql/binlog_decoder.h"
#include "source/mysql/recording_handler.h"

namespace sluice::mysql {
namespace {

using crafted::Event;
using crafted::kQuery;
using crafted::Query;

// The session of `sql` logged with `more_vars` after the usual ones.
DdlSession SessionOf(const std::string& sql, const std::string& more_vars) {
  BinlogDecoder decoder{BinlogDecoder::Options{}};
  testing::RecordingHandler h;
  std::string fde = crafted::Mysql8FormatDescription();
  EXPECT_TRUE(decoder.Feed(fde, h, 4).ok());
  Status st = decoder.Feed(Event(kQuery, Query("db", sql, more_vars), 600), h, 4 + fde.size());
  EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(h.ddl_sessions.size(), 1u);
  return h.ddl_sessions.empty() ? DdlSession{} : h.ddl_sessions[0];
}

TEST(QuerySessionTest, Mysql8LogsExplicitDefaultsForTimestampForTimestampColumns) {
  // Q_EXPLICIT_DEFAULTS_FOR_TIMESTAMP (0x10), after Q_DDL_LOGGED_WITH_XID.
  const std::string xid = std::string("\x11", 1) + std::string(8, '\0');
  auto on = SessionOf("CREATE TABLE t (ts TIMESTAMP)", xid + std::string("\x10\x01", 2));
  EXPECT_EQ(on.explicit_defaults_for_timestamp, std::optional<bool>(true));
  auto off = SessionOf("CREATE TABLE t (ts TIMESTAMP)", xid + std::string("\x10\x00", 2));
  EXPECT_EQ(off.explicit_defaults_for_timestamp, std::optional<bool>(false));
  EXPECT_FALSE(off.empty());
  // Not logged: a statement without a TIMESTAMP column.
  auto none = SessionOf("CREATE TABLE t (id INT)", xid);
  EXPECT_FALSE(none.explicit_defaults_for_timestamp.has_value());
}

TEST(QuerySessionTest, MysqlFlags2IsNotReadAsMariadbs) {
  // Q_FLAGS2_CODE with bit 24 set: MariaDB's explicit_defaults_for_timestamp,
  // not written by MySQL; on a MySQL source it means nothing.
  std::string flags2("\x00", 1);
  crafted::PutLe(flags2, 1u << 24, 4);
  auto s = SessionOf("CREATE TABLE t (ts TIMESTAMP)", flags2);
  EXPECT_FALSE(s.explicit_defaults_for_timestamp.has_value());
}

}  // namespace
}  // namespace sluice::mysql
