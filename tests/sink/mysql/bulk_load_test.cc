#include "sink/mysql/bulk_load.h"

#include <gtest/gtest.h>

namespace sluice::sink::mysql {
namespace {

struct Rows {
  std::shared_ptr<TargetTable> t = std::make_shared<TargetTable>();
  std::vector<SinkChange> rows;
  std::vector<const SinkChange*> Ptrs() const {
    std::vector<const SinkChange*> out;
    for (const auto& r : rows) out.push_back(&r);
    return out;
  }
  void Add(std::vector<Value> values) {
    SinkChange c;
    c.table = t;
    c.values = std::move(values);
    rows.push_back(std::move(c));
  }
};

TEST(BulkLoadTest, EscapesTextAndSpellsNull) {
  Rows r;
  r.t->db = "shop";
  r.t->table = "or`ders";
  r.t->columns = {"id", "note", "amount", "at"};
  r.t->key = {0};
  r.Add({Value::Int(-7), Value::Str(ValueKind::kText, std::string_view("a\tb\nc\\d\0e", 9)),
         Value::Str(ValueKind::kDecimal, "19.90"), Value::Str(ValueKind::kDateTime, "2024-01-31 12:34:56.789")});
  r.Add({Value::UInt(18446744073709551615ull), Value::Str(ValueKind::kText, "\\N"), Value::Null(),
         Value::Str(ValueKind::kText, "")});
  BulkLoad load;
  ASSERT_TRUE(BuildBulkLoad(*r.t, r.Ptrs(), /*replace=*/true, &load).ok());
  EXPECT_EQ(load.data,
            "-7\ta\\tb\\nc\\\\d\\0e\t19.90\t2024-01-31 12:34:56.789\n"
            "18446744073709551615\t\\\\N\t\\N\t\n");
  EXPECT_EQ(load.sql,
            "LOAD DATA LOCAL INFILE 'sluice-rows' REPLACE INTO TABLE `shop`.`or``ders` CHARACTER SET utf8mb4 FIELDS "
            "TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (`id`, `note`, `amount`, `at`)");
}

TEST(BulkLoadTest, BinaryGeometryAndBitGoThroughVariables) {
  Rows r;
  r.t->db = "d";
  r.t->table = "t";
  r.t->columns = {"b", "g", "bits", "f"};
  r.Add({Value::Str(ValueKind::kBytes, std::string_view("\x00\xff\t", 3)),
         Value::Str(ValueKind::kGeometry, std::string_view("\x01\x02", 2)), Value::Bit(5), Value::Double(0.1)});
  r.Add({Value::Null(), Value::Null(), Value::Null(), Value::Float(1.5f)});
  BulkLoad load;
  ASSERT_TRUE(BuildBulkLoad(*r.t, r.Ptrs(), /*replace=*/false, &load).ok());
  EXPECT_EQ(load.data, "00FF09\t0102\t5\t0.1\n\\N\t\\N\t\\N\t1.5\n");
  EXPECT_EQ(load.sql,
            "LOAD DATA LOCAL INFILE 'sluice-rows' INTO TABLE `d`.`t` CHARACTER SET utf8mb4 FIELDS TERMINATED BY "
            "'\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (@c0, @c1, @c2, `f`) SET `b` = UNHEX(@c0), `g` = "
            "ST_GeomFromWKB(UNHEX(@c1)), `bits` = CAST(@c2 AS UNSIGNED)");
}

TEST(BulkLoadTest, PartialRowImagesAreRefused) {
  Rows r;
  r.t->db = "d";
  r.t->table = "t";
  r.t->columns = {"a"};
  r.Add({Value::Absent()});
  BulkLoad load;
  EXPECT_EQ(BuildBulkLoad(*r.t, r.Ptrs(), true, &load).code(), StatusCode::kNotSupported);
}

}  // namespace
}  // namespace sluice::sink::mysql
