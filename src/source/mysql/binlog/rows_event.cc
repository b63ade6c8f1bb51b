#include "source/mysql/binlog/rows_event.h"

#include "source/mysql/binlog/event_types.h"
#include "source/mysql/binlog/events.h"
#include "source/mysql/column/column_decoder.h"
#include "client/mysql/column_types.h"
#include "source/mysql/column/json_binary.h"

namespace sluice::mysql {
namespace {

inline bool BitSet(std::string_view bitmap, size_t i) {
  return (static_cast<uint8_t>(bitmap[i / 8]) >> (i % 8)) & 1;
}

size_t CountBits(std::string_view bitmap, size_t width) {
  size_t n = 0;
  for (size_t i = 0; i < width; ++i) n += BitSet(bitmap, i);
  return n;
}

Op OpOf(uint8_t type) {
  switch (type) {
    case kWriteRowsEventV1: case kWriteRowsEventV2: case kWriteRowsCompressedEventV1:
    case kWriteRowsCompressedEvent:
      return Op::kInsert;
    case kDeleteRowsEventV1: case kDeleteRowsEventV2: case kDeleteRowsCompressedEventV1:
    case kDeleteRowsCompressedEvent:
      return Op::kDelete;
    default:
      return Op::kUpdate;
  }
}

bool IsV2(uint8_t type) {
  return (type >= kWriteRowsEventV2 && type <= kDeleteRowsEventV2) || type == kPartialUpdateRowsEvent ||
         (type >= kWriteRowsCompressedEvent && type <= kDeleteRowsCompressedEvent);
}

bool IsCompressed(uint8_t type) {
  return type >= kWriteRowsCompressedEventV1 && type <= kDeleteRowsCompressedEvent;
}

}  // namespace

Status ParseRowsEventHeader(ByteReader& body, uint8_t type, uint8_t post_header_len, std::string& scratch,
                            RowsEvent& out) {
  out.op = OpOf(type);
  out.partial_json = type == kPartialUpdateRowsEvent;
  out.table_id = post_header_len == 6 ? body.U32() : body.U48();
  out.flags = body.U16();
  if (IsV2(type)) {
    uint16_t extra_len = body.U16();
    if (extra_len < 2) return Status::Corruption("{}: extra data length {} < 2", EventTypeName(type), extra_len);
    body.Skip(extra_len - 2);  // NDB info and partition ids: not needed to decode rows
  }
  out.width = body.LenEnc();
  if (!body.ok() || out.width == 0 || out.width > 4096) {
    return Status::Corruption("{}: truncated header or bad column count {}", EventTypeName(type), out.width);
  }
  size_t bitmap_len = (out.width + 7) / 8;
  out.present_before = body.Bytes(bitmap_len);
  out.present_after = out.op == Op::kUpdate ? body.Bytes(bitmap_len) : std::string_view();
  std::string_view rows = body.Rest();
  if (!body.ok()) return Status::Corruption("{}: truncated column bitmaps", EventTypeName(type));
  if (IsCompressed(type)) {
    RETURN_IF_ERROR(MariadbUncompress(rows, scratch).WithContext(EventTypeName(type)));
    rows = scratch;
  }
  out.rows = rows;
  return Status::Ok();
}

// Row image: [PARTIAL_UPDATE after image: value_options:lenenc [partial_bits:(json_columns+7)/8]]
//   null_bitmap:(present_columns+7)/8, then each present non-NULL column's value.
Status RowImageDecoder::Decode(ByteReader& r, const TableSchema& schema, std::string_view present,
                               bool partial_after, const std::vector<Value>* before, Arena& arena,
                               std::vector<Value>& out) {
  const size_t width = schema.columns.size();
  out.resize(width);
  std::string_view partial_bits;
  if (partial_after) {
    uint64_t value_options = r.LenEnc();
    if (value_options & 1) {  // PARTIAL_JSON_UPDATES
      size_t json_columns = 0;
      for (const auto& c : schema.columns) json_columns += c.type == kTypeJson;
      partial_bits = r.Bytes((json_columns + 7) / 8);
    }
  }
  std::string_view nulls = r.Bytes((CountBits(present, width) + 7) / 8);
  if (!r.ok()) return Status::Corruption("row image truncated before its null bitmap");

  size_t present_index = 0;
  size_t json_index = 0;
  for (size_t i = 0; i < width; ++i) {
    const ColumnMeta& col = schema.columns[i];
    bool is_partial = false;
    if (col.type == kTypeJson) {
      is_partial = !partial_bits.empty() && BitSet(partial_bits, json_index);
      ++json_index;
    }
    if (!BitSet(present, i)) {
      out[i] = Value::Absent();
      continue;
    }
    if (BitSet(nulls, present_index++)) {
      out[i] = Value::Null();
      continue;
    }
    Status st;
    if (is_partial) {
      // A JSON diff list applied to the before image's document.
      std::string_view diffs = r.PrefixedString(col.meta);
      if (!r.ok()) {
        st = Status::Corruption("truncated partial JSON value");
      } else if (before == nullptr || i >= before->size() || (*before)[i].kind != ValueKind::kJson) {
        st = Status::Corruption("partial JSON update without a JSON before image");
      } else {
        st = ApplyJsonDiffs(diffs, (*before)[i].s, json_scratch_);
        if (st.ok()) out[i] = Value::Str(ValueKind::kJson, arena.Copy(json_scratch_));
      }
    } else {
      st = DecodeColumn(r, col, arena, out[i]);
    }
    if (!st.ok()) {
      return st.WithContext(fmt::format("column {} `{}` ({})", i + 1, col.name, DescribeColumnType(col)));
    }
  }
  return Status::Ok();
}

}  // namespace sluice::mysql
