// RedisConnection against a real redis-server that hangs (SIGSTOP: the
// kernel accepts connections, nothing answers): an Interrupter ends a wait
// for a reply, a connect's AUTH, and refuses connects after it.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "core/interrupter.h"
#include "harness/redis_server.h"
#include "sink/redis/redis_connection.h"

namespace sluice::sink::redis {
namespace {

using sluice::testing::RedisServer;
using std::chrono::seconds;

RedisEndpoint EndpointOf(const RedisServer& server, const std::string& password = "") {
  RedisEndpoint e;
  e.port = server.port();
  e.password = password;
  e.has_password = !password.empty();
  return e;
}

// Runs `call` on a thread; once the hung server holds its request unread,
// interrupts it. The call's result and how long it took from the interrupt.
template <typename Call>
auto InterruptOnceSent(RedisServer& server, Interrupter& interrupter, Call call) {
  decltype(call()) result = Status::Error(StatusCode::kNotFound, "not run");
  std::jthread caller([&] { result = call(); });
  const auto deadline = std::chrono::steady_clock::now() + seconds(20);
  while (server.UnreadBytes() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(server.UnreadBytes(), 0u) << "the request never reached the server";
  auto t0 = std::chrono::steady_clock::now();
  interrupter.Interrupt();
  caller.join();
  return std::pair{std::move(result), std::chrono::steady_clock::now() - t0};
}

TEST(RedisConnectionTest, InterruptEndsAWaitForAReplyFromAHungServer) {
  auto server = RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().message();
  Interrupter interrupter;
  auto conn = RedisConnection::Connect(EndpointOf(**server), seconds(120), &interrupter);
  ASSERT_TRUE(conn.ok()) << conn.status().message();
  ASSERT_TRUE((*conn)->Command({"SET", "k", "v"}).ok());
  ASSERT_TRUE((*server)->Hang().ok());
  auto [reply, took] = InterruptOnceSent(**server, interrupter, [&] { return (*conn)->Command({"GET", "k"}); });
  ASSERT_TRUE((*server)->Resume().ok());
  ASSERT_FALSE(reply.ok());
  EXPECT_TRUE(reply.status().retryable());
  EXPECT_NE(reply.status().message().find("interrupted"), std::string::npos) << reply.status().message();
  EXPECT_LT(took, seconds(5));
  EXPECT_TRUE((*conn)->broken());
  // Later connects are refused at once; the server itself is fine.
  auto again = RedisConnection::Connect(EndpointOf(**server), seconds(120), &interrupter);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("interrupted"), std::string::npos) << again.status().message();
  auto fresh = (*server)->Connect();
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  auto v = (*fresh)->Command({"GET", "k"});
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->str, "v");
}

TEST(RedisConnectionTest, InterruptEndsAConnectWhoseAuthHangs) {
  auto server = RedisServer::Start({.password = "secret"});
  ASSERT_TRUE(server.ok()) << server.status().message();
  ASSERT_TRUE((*server)->Hang().ok());
  Interrupter interrupter;
  auto [conn, took] = InterruptOnceSent(**server, interrupter, [&] {
    return RedisConnection::Connect(EndpointOf(**server, "secret"), seconds(120), &interrupter);
  });
  ASSERT_TRUE((*server)->Resume().ok());
  ASSERT_FALSE(conn.ok());
  EXPECT_TRUE(conn.status().retryable());
  EXPECT_NE(conn.status().message().find("interrupted"), std::string::npos) << conn.status().message();
  EXPECT_LT(took, seconds(5));
}

}  // namespace
}  // namespace sluice::sink::redis
