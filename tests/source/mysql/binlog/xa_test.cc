#include "source/mysql/binlog/xa.h"

#include <gtest/gtest.h>

namespace sluice::mysql {
namespace {

using Kind = XaStatement::Kind;

TEST(XaStatementTest, NamesTheStatementAndItsXidInOneForm) {
  // As MariaDB and MySQL log them.
  auto commit = ParseXaStatement("XA COMMIT X'7832',X'',1");
  ASSERT_TRUE(commit);
  EXPECT_EQ(commit->kind, Kind::kCommit);
  EXPECT_EQ(commit->xid, "7832,,1");
  EXPECT_FALSE(commit->one_phase);
  // As users write them: quoted strings, hex literals, omitted parts.
  EXPECT_EQ(ParseXaStatement("xa rollback 'x2'")->xid, "7832,,1");
  EXPECT_EQ(ParseXaStatement("XA START 0x7832")->xid, "7832,,1");
  EXPECT_EQ(ParseXaStatement("XA BEGIN 'x2', 'b', 7")->xid, "7832,62,7");
  EXPECT_EQ(ParseXaStatement("XA START X'7832' , X'62' , 7")->kind, Kind::kStart);
  EXPECT_EQ(ParseXaStatement("XA START 'it''s'")->xid, "69742773,,1");
  EXPECT_EQ(ParseXaStatement("XA START 'it\\'s'")->xid, "69742773,,1");

  auto one_phase = ParseXaStatement("XA COMMIT X'7833',X'',1 ONE PHASE");
  ASSERT_TRUE(one_phase);
  EXPECT_TRUE(one_phase->one_phase);
  EXPECT_EQ(one_phase->xid, "7833,,1");

  EXPECT_EQ(ParseXaStatement("XA END X'7831',X'',1")->kind, Kind::kEnd);
  EXPECT_EQ(ParseXaStatement("XA RECOVER")->kind, Kind::kRecover);
  EXPECT_FALSE(ParseXaStatement("COMMIT"));
  EXPECT_FALSE(ParseXaStatement("XADD"));
  EXPECT_TRUE(ParseXaStatement("XA COMMIT X'78")->xid.empty());  // unterminated: no xid
}

TEST(XaPrepareTest, ReadsTheXidAndOnePhaseFlagOfTheEvent) {
  // one_phase:1 formatID:4 gtrid_length:4 bqual_length:4 data
  const unsigned char body[] = {0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 'x', '1', 'b'};
  ByteReader r(body, sizeof body);
  auto ev = ParseXaPrepare(r);
  ASSERT_TRUE(ev.ok()) << ev.status().message();
  EXPECT_EQ(ev->xid, "7831,62,1");
  EXPECT_FALSE(ev->one_phase);
  EXPECT_EQ(ev->xid, MakeXidKey("x1", "b", 1));
  EXPECT_EQ(ev->xid, ParseXaStatement("XA COMMIT 'x1','b',1")->xid);

  const unsigned char one_phase[] = {1, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 'x', '1'};
  ByteReader r2(one_phase, sizeof one_phase);
  EXPECT_TRUE(ParseXaPrepare(r2)->one_phase);

  const unsigned char truncated[] = {0, 1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 'x'};
  ByteReader r3(truncated, sizeof truncated);
  EXPECT_EQ(ParseXaPrepare(r3).status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace sluice::mysql
