// `sluice flashback --source file://...` over real MySQL 8 binlogs
// (../shared/fixtures/binlog, read in place): their rows come in zstd
// TRANSACTION_PAYLOAD events and carry no column names
// (binlog_row_metadata=MINIMAL). Printing is refused naming the table and
// position; with --apply the names come from the server's table of the same
// name, and the undo puts back exactly the before image the fixture holds.

#include <gtest/gtest.h>

#include <filesystem>

#include "cli/run_command.h"
#include "harness/mariadb_server.h"

namespace sluice::testing {
namespace {

std::string Fixture(const std::string& name) { return std::string(SLUICE_FIXTURES_DIR) + "/binlog/" + name; }

// The whole file as the range: from its first event to its end.
std::string WholeFile(const std::string& name) {
  return fmt::format("--source file://{} --start {}:4 --stop {}:{}", Fixture(name), name, name,
                     std::filesystem::file_size(Fixture(name)));
}

// demo.movies as the MySQL 8.0.28 server of mbcj-mysql-bin.compressed had
// it (11 columns; the names are ours: the binlog has none).
constexpr const char* kMovies =
    "CREATE DATABASE demo; CREATE TABLE demo.movies (id INT PRIMARY KEY, title VARCHAR(200), year INT, "
    "country VARCHAR(100), genres VARCHAR(200), actors VARCHAR(500), directors VARCHAR(200), "
    "composers VARCHAR(200), screenwriters VARCHAR(200), cinematographer VARCHAR(200), "
    "production_companies VARCHAR(200))";

// The row as the fixture's one UPDATE left it (`sluice tail` of the file).
constexpr const char* kAfter =
    "INSERT INTO demo.movies VALUES (1, 'Once Upon a Time in the West', 1968, 'Italy', 'Western|Action', "
    "'Claudia Cardinale|Charles Bronson|Henry Fonda|Gabriele Ferzetti|Frank Wolff|Al Mulock|Jason Robards|"
    "Woody Strode|Jack Elam|Lionel Stander|Paolo Stoppa|Keenan Wynn|Aldo Sambrell', 'Sergio Leone', "
    "'Ennio Morricone', 'Sergio Leone|Sergio Donati|Dario Argento|Bernardo Bertolucci', 'Tonino Delli Colli', "
    "'Paramount Pictures')";

class FlashbackMysql8Test : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = MariadbServer::Start({.relaxed_durability = true});
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(*s);
  }
  std::unique_ptr<MariadbServer> server_;
};

TEST_F(FlashbackMysql8Test, PrintIsRefusedForABinlogWithoutColumnNames) {
  for (const char* name : {"mbcr-mysql-bin.000057", "mbcj-mysql-bin.compressed"}) {
    auto r = RunSluice(fmt::format("flashback {} --print --force", WholeFile(name)));
    EXPECT_EQ(r.exit_code, 1) << name << r.err;
    EXPECT_NE(r.err.find("the binlog has no column names"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(std::string("@ ") + name + ":"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;  // nothing half-printed
  }
  // 8.0.31's first row change is of `a`.`b`; an --apply server without the
  // table has no names to give either.
  auto r = RunSluice(fmt::format("flashback {} --print --force", WholeFile("mbcr-mysql-bin.000057")));
  EXPECT_NE(r.err.find("table `a`.`b` @ mbcr-mysql-bin.000057:"), std::string::npos) << r.err;
  auto apply = RunSluice(
      fmt::format("flashback {} --apply {}", WholeFile("mbcr-mysql-bin.000057"), ShellQuote(server_->Url())));
  EXPECT_EQ(apply.exit_code, 1) << apply.err;
  EXPECT_NE(apply.err.find("has no such table to take them from"), std::string::npos) << apply.err;
}

TEST_F(FlashbackMysql8Test, ApplyServerNamesTheColumnsAndTheUpdateIsUndone) {
  ASSERT_TRUE(server_->Execute(kMovies).ok());
  ASSERT_TRUE(server_->Execute(kAfter).ok());
  auto r = RunSluice(
      fmt::format("flashback {} --apply {}", WholeFile("mbcj-mysql-bin.compressed"), ShellQuote(server_->Url())));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // The before image of the fixture's UPDATE: only `genres` differed.
  auto row = server_->Query("SELECT genres, title, year, actors FROM demo.movies WHERE id = 1");
  ASSERT_TRUE(row.ok() && row->size() == 1);
  EXPECT_EQ((*row)[0][0].value_or(""), "Western");
  EXPECT_EQ((*row)[0][1].value_or(""), "Once Upon a Time in the West");
  EXPECT_EQ((*row)[0][2].value_or(""), "1968");
  EXPECT_EQ(*server_->QueryValue("SELECT COUNT(*) FROM demo.movies"), "1");
  // Undone once: the row is no longer as the range left it, so a second run
  // is refused (the check against the server).
  auto again = RunSluice(
      fmt::format("flashback {} --apply {}", WholeFile("mbcj-mysql-bin.compressed"), ShellQuote(server_->Url())));
  EXPECT_EQ(again.exit_code, 1) << again.err;
  EXPECT_NE(again.err.find("changed after the range"), std::string::npos) << again.err;
}

TEST_F(FlashbackMysql8Test, ApplyServerTableOfAnotherShapeIsRefused) {
  ASSERT_TRUE(server_->Execute("CREATE DATABASE demo; CREATE TABLE demo.movies (id INT PRIMARY KEY, title TEXT)").ok());
  auto r = RunSluice(
      fmt::format("flashback {} --apply {}", WholeFile("mbcj-mysql-bin.compressed"), ShellQuote(server_->Url())));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("has 2 columns where the binlog's rows have 11"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sluice::testing
