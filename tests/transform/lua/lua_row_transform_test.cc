// TableMapper with a rule's Lua script: inserts, updates and deletes as the
// script makes them (changed values, an added column, a removed column, nil
// drops), the derived target columns, and errors naming table, key and position.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "core/sync_point.h"
#include "transform/lua/script_threads.h"
#include "transform/table_mapper.h"

namespace sluice::transform {
namespace {

TableSchemaPtr Users() {
  auto s = std::make_shared<TableSchema>();
  s->db = "shop";
  s->table = "users";
  s->names_known = true;
  s->columns.resize(3);
  s->columns[0].name = "id";
  s->columns[1].name = "email";
  s->columns[2].name = "note";
  s->primary_key = {0};
  return s;
}

std::shared_ptr<ChangeEvent> Event(const TableSchemaPtr& s, Op op, std::vector<Value> before,
                                   std::vector<Value> after) {
  auto ev = std::make_shared<ChangeEvent>();
  ev->table = s;
  ev->op = op;
  ev->before = {std::move(before), op != Op::kInsert};
  ev->after = {std::move(after), op != Op::kDelete};
  ev->pos.file = "binlog.000001";
  ev->pos.txn_offset = 400;
  ev->pos.index = 1;
  return ev;
}

std::unique_ptr<TableMapper> Mapper(const char* script, size_t script_threads = 1) {
  MappingRule r;
  r.match = "shop.users";
  r.origin = "sluice.yaml:3:7";
  r.lua = std::make_shared<lua::LuaScript>(lua::LuaScript{"rules/u.lua", script});
  std::vector<MappingRule> rules;
  rules.push_back(std::move(r));
  auto m = TableMapper::Create(std::move(rules), script_threads);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return std::move(m).value();
}

constexpr const char* kScript = R"(function transform(op, row, old)
  local r = row or old
  if r.id == 13 then return nil end
  if r.id == 99 then error("bad row") end
  r.email = string.sub(r.email, 1, 1) .. "***"
  r.len = #(row or old).note
  r.note = nil
  return r
end
)";

TEST(LuaRowTransformTest, InsertUpdateDeleteAsTheScriptMakesThem) {
  auto m = Mapper(kScript);
  auto s = Users();
  auto T = [](std::string_view v) { return Value::Str(ValueKind::kText, v); };
  std::vector<SinkChange> out;
  ASSERT_TRUE(m->Transform(Event(s, Op::kInsert, {}, {Value::Int(1), T("alice@x"), T("four")}), out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, SinkChange::Kind::kUpsert);
  EXPECT_EQ(out[0].table->columns, (std::vector<std::string>{"id", "email", "len"}));
  EXPECT_EQ(out[0].table->key, (std::vector<uint32_t>{0}));
  EXPECT_EQ(out[0].values[0].i, 1);
  EXPECT_EQ(out[0].values[1].s, "a***");
  EXPECT_EQ(out[0].values[2].kind, ValueKind::kInt);
  EXPECT_EQ(out[0].values[2].i, 4);

  out.clear();
  ASSERT_TRUE(m->Transform(Event(s, Op::kInsert, {}, {Value::Int(13), T("x@y"), T("")}), out).ok());
  EXPECT_TRUE(out.empty()) << "nil drops the insert";

  out.clear();
  ASSERT_TRUE(m->Transform(Event(s, Op::kUpdate, {Value::Int(1), T("alice@x"), T("four")},
                                 {Value::Int(1), T("bob@x"), T("sixsix")}),
                           out)
                  .ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].op, Op::kUpdate);
  EXPECT_EQ(out[0].values[1].s, "b***");
  EXPECT_EQ(out[0].values[2].i, 6);
  EXPECT_EQ(out[0].before_value(1).s, "b***") << "the unmasked old value never leaves";

  out.clear();
  ASSERT_TRUE(m->Transform(Event(s, Op::kUpdate, {Value::Int(13), T("a@x"), T("")},
                                 {Value::Int(13), T("b@x"), T("")}),
                           out)
                  .ok());
  ASSERT_EQ(out.size(), 1u) << "an update the script drops leaves the target";
  EXPECT_EQ(out[0].kind, SinkChange::Kind::kDelete);
  EXPECT_EQ(out[0].values[0].i, 13);

  out.clear();
  ASSERT_TRUE(m->Transform(Event(s, Op::kDelete, {Value::Int(1), T("bob@x"), T("sixsix")}, {}), out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, SinkChange::Kind::kDelete);
  EXPECT_EQ(out[0].values[0].i, 1);
}

// A row the script returns untouched goes on as the event it came in (a
// checking script costs no copy); an update is remade all the same (its
// before image follows the script's row).
TEST(LuaRowTransformTest, AnUntouchedRowGoesOnAsTheSameEvent) {
  lua::LuaRowTransform t(std::make_shared<lua::LuaScript>(lua::LuaScript{
      "rules/u.lua", "function transform(op, row, old) local r = row or old\n"
                     "if r.id == 2 then r.note = 'x' end return r end"}));
  auto s = Users();
  auto T = [](std::string_view v) { return Value::Str(ValueKind::kText, v); };
  for (Op op : {Op::kInsert, Op::kDelete, Op::kUpdate}) {
    for (int id : {1, 2}) {
      std::vector<Value> row = {Value::Int(id), T("a@x"), Value::Null()};
      auto ev = Event(s, op, op == Op::kInsert ? std::vector<Value>{} : row,
                      op == Op::kDelete ? std::vector<Value>{} : row);
      auto out = t.Apply(ev);
      ASSERT_TRUE(out.ok()) << out.status().message();
      ASSERT_NE(*out, nullptr);
      EXPECT_EQ(out->get() == ev.get(), id == 1 && op != Op::kUpdate) << static_cast<int>(op) << " " << id;
    }
  }
}

TEST(LuaRowTransformTest, ErrorsNameScriptLineTableKeyAndPosition) {
  auto m = Mapper(kScript);
  auto s = Users();
  std::vector<SinkChange> out;
  Status st = m->Transform(Event(s, Op::kInsert, {}, {Value::Int(99), Value::Str(ValueKind::kText, "a"),
                                                      Value::Str(ValueKind::kText, "")}),
                           out);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(m->last_error_from_script());
  EXPECT_NE(st.message().find("rules/u.lua:4: bad row"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("table `shop`.`users`, key id=99, at binlog.000001:400#1"), std::string::npos)
      << st.message();
}

TEST(LuaRowTransformTest, RemovingTheKeyIsAnError) {
  auto m = Mapper("function transform(op, row, old) row.id = nil return row end");
  auto s = Users();
  std::vector<SinkChange> out;
  Status st = m->Transform(Event(s, Op::kInsert, {}, {Value::Int(1), Value::Null(), Value::Null()}), out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("removed key column `id`"), std::string::npos) << st.message();
}

// Scripts on several threads (RunScriptsAhead): the transform thread, once
// it would run a piece of rows itself, waits until a helper thread has run
// `pieces` pieces, so helpers' Lua states do part of the rows whatever the
// scheduler does. Counts the pieces helpers ran.
class HelpersRunPieces {
 public:
  explicit HelpersRunPieces(int pieces) : want_(pieces) {
    SetSyncPointAction("lua.helper.ran_piece", [this] {
      std::lock_guard lock(mu_);
      ++ran_;
      cv_.notify_all();
    });
    SetSyncPointAction("lua.owner.takes_piece", [this] {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(10), [&] { return ran_ >= want_; });
    });
  }
  ~HelpersRunPieces() {
    SetSyncPointAction("lua.helper.ran_piece", nullptr);
    SetSyncPointAction("lua.owner.takes_piece", nullptr);
  }
  int ran() {
    std::lock_guard lock(mu_);
    return ran_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int ran_ = 0;
  const int want_;
};

// Rows 1..n of shop.users, each an insert at its own position (#id).
std::vector<std::shared_ptr<ChangeEvent>> Inserts(const TableSchemaPtr& s, int n) {
  std::vector<std::shared_ptr<ChangeEvent>> evs;
  for (int id = 1; id <= n; ++id) {
    auto ev = Event(s, Op::kInsert, {}, {Value::Int(id), Value::Str(ValueKind::kText, "u@x"), Value::Null()});
    ev->pos.index = static_cast<uint64_t>(id);
    evs.push_back(std::move(ev));
  }
  return evs;
}

constexpr const char* kParallelScript = R"(function transform(op, row, old)
  if row.id % 7 == 0 then return nil end
  row.twice = row.id * 2
  return row
end
)";

TEST(LuaRowTransformTest, RowsComeOutInSourceOrderFromSeveralThreads) {
  auto m = Mapper(kParallelScript, 3);
  auto s = Users();
  auto evs = Inserts(s, 200);
  HelpersRunPieces helpers(4);
  std::vector<SinkChange> out;
  m->RunScriptsAhead(evs);
  for (const auto& ev : evs) ASSERT_TRUE(m->Transform(ev, out).ok());
  EXPECT_GE(helpers.ran(), 4) << "helper threads ran pieces of the rows";
  // Every row but the dropped ones (id % 7 == 0), in source order, each
  // with its own derived value, over one target table whichever thread's
  // Lua state made the row.
  std::vector<int64_t> ids;
  for (const SinkChange& c : out) {
    ids.push_back(c.values[0].i);
    ASSERT_EQ(c.values[3].i, 2 * c.values[0].i);
    EXPECT_EQ(c.pos.index, static_cast<uint64_t>(c.values[0].i));
    EXPECT_EQ(c.table, out[0].table) << "one schema per shape across threads";
  }
  std::vector<int64_t> want;
  for (int id = 1; id <= 200; ++id) {
    if (id % 7 != 0) want.push_back(id);
  }
  EXPECT_EQ(ids, want);
  EXPECT_EQ(out[0].table->columns, (std::vector<std::string>{"id", "email", "note", "twice"}));
}

TEST(LuaRowTransformTest, AnErrorAmongParallelRowsIsTheRowsOwnAndLaterRowsGoOn) {
  // Row 78's script fails (78 % 7 == 1, not dropped); rows after it ran
  // ahead on other threads. The error names row 78 and its position, and
  // (as on_error: skip does) the rows after it still come out in order.
  constexpr const char* kScript = R"(function transform(op, row, old)
  if row.id % 7 == 0 then return nil end
  if row.id == 78 then error("bad row " .. row.id) end
  row.twice = row.id * 2
  return row
end
)";
  auto m = Mapper(kScript, 2);
  auto s = Users();
  auto evs = Inserts(s, 160);
  HelpersRunPieces helpers(2);
  m->RunScriptsAhead(evs);
  std::vector<SinkChange> out;
  std::vector<int64_t> ids;
  int failed = 0;
  for (const auto& ev : evs) {
    out.clear();
    Status st = m->Transform(ev, out);
    if (!st.ok()) {
      ++failed;
      EXPECT_EQ(ev->after.values[0].i, 78);
      EXPECT_TRUE(m->last_error_from_script());
      EXPECT_NE(st.message().find("rules/u.lua:3: bad row 78"), std::string::npos) << st.message();
      EXPECT_NE(st.message().find("key id=78, at binlog.000001:400#78"), std::string::npos) << st.message();
      continue;
    }
    EXPECT_FALSE(m->last_error_from_script());
    for (const SinkChange& c : out) ids.push_back(c.values[0].i);
  }
  EXPECT_EQ(failed, 1);
  EXPECT_GE(helpers.ran(), 2);
  std::vector<int64_t> want;
  for (int id = 1; id <= 160; ++id) {
    if (id % 7 != 0 && id != 78) want.push_back(id);
  }
  EXPECT_EQ(ids, want);
}

TEST(LuaRowTransformTest, RowsNotTakenAreDroppedByTheNextGroup) {
  // A pipeline that stops at an error takes no more of its group; the next
  // group starts afresh, and rows are transformed in place when a group is
  // too small to share.
  auto m = Mapper(kParallelScript, 2);
  auto s = Users();
  auto evs = Inserts(s, 100);
  m->RunScriptsAhead(evs);
  std::vector<SinkChange> out;
  ASSERT_TRUE(m->Transform(evs[0], out).ok());
  auto next = Inserts(s, 5);
  m->RunScriptsAhead(next);
  out.clear();
  for (const auto& ev : next) ASSERT_TRUE(m->Transform(ev, out).ok());
  ASSERT_EQ(out.size(), 5u);
  for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i].values[0].i, static_cast<int64_t>(i + 1));
}

TEST(ScriptThreadsTest, EveryPieceRunsOnceAndFinishStopsTheRest) {
  lua::ScriptThreads threads(2, "test-lua");
  EXPECT_EQ(threads.size(), 3u);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::atomic<int>> runs(64);
    std::vector<size_t> by(64, 99);
    threads.Start(64, [&](size_t piece, size_t thread) {
      runs[piece]++;
      by[piece] = thread;
    });
    for (size_t p = 0; p < 64; ++p) {
      threads.Await(p);
      ASSERT_EQ(runs[p].load(), 1) << "piece " << p;
      ASSERT_LT(by[p], 3u);
    }
  }
  // Finish without awaiting: pieces already taken end, the rest never run,
  // and nothing runs once Finish returned.
  std::atomic<int> ran{0};
  threads.Start(1000, [&](size_t, size_t) { ran++; });
  threads.Await(0);
  threads.Finish();
  int after_finish = ran.load();
  EXPECT_GE(after_finish, 1);
  EXPECT_LE(after_finish, 1000);
  threads.Finish();
  EXPECT_EQ(ran.load(), after_finish);
}

}  // namespace
}  // namespace sluice::transform
