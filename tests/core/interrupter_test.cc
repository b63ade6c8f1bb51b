#include "core/interrupter.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

struct FakeConnection : Interruptible {
  int shutdowns = 0;
  void ShutdownSocket() override { ++shutdowns; }
};

// Registered connections are cut once per Interrupt; one registered after
// it is cut at once; one that left is never touched.
TEST(InterrupterTest, CutsRegisteredConnectionsAndLateComersAtOnce) {
  Interrupter in;
  FakeConnection a, b, gone;
  in.Add(&a);
  in.Add(&gone);
  in.Remove(&gone);
  EXPECT_FALSE(in.interrupted());
  in.Interrupt();
  EXPECT_TRUE(in.interrupted());
  EXPECT_EQ(a.shutdowns, 1);
  EXPECT_EQ(gone.shutdowns, 0);
  in.Add(&b);
  EXPECT_EQ(b.shutdowns, 1);
  bool seen = false;
  in.Locked([&](bool interrupted) { seen = interrupted; });
  EXPECT_TRUE(seen);
  in.Remove(&a);
  in.Remove(&b);
  in.Reset();
  EXPECT_FALSE(in.interrupted());
}

}  // namespace
}  // namespace sluice
