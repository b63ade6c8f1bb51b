#pragma once
// Rows events (WRITE/UPDATE/DELETE v1 and v2, MariaDB compressed v1,
// MySQL 8 PARTIAL_UPDATE_ROWS): header parsing and row-image decoding.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/arena.h"
#include "core/byte_reader.h"
#include "core/row_change.h"
#include "core/status.h"
#include "core/table_schema.h"
#include "core/value.h"

namespace sluice::mysql {

struct RowsEvent {
  Op op = Op::kInsert;
  uint64_t table_id = 0;
  uint16_t flags = 0;
  uint64_t width = 0;                // number of columns
  std::string_view present_before;   // columns-present bitmap of the before image (or the only image)
  std::string_view present_after;    // UPDATE only
  std::string_view rows;             // the row images (decompressed for MariaDB compressed events)
  bool partial_json = false;         // PARTIAL_UPDATE_ROWS: after images may hold JSON diffs
  static constexpr uint16_t kStmtEndFlag = 0x0001;
  static constexpr uint16_t kNoForeignKeyChecksFlag = 0x0002;  // the session had foreign_key_checks=0
};

// Parses the header of a rows event of type `type` and points `out.rows` at its
// row images. `scratch` holds the decompressed rows of compressed events.
//   post-header: table_id:6 (4 if post_header_len is 6) flags:2 [v2: extra_len:2 extra:extra_len-2]
//   body: width:lenenc present:(width+7)/8 [UPDATE: present_after:(width+7)/8] rows...
Status ParseRowsEventHeader(ByteReader& body, uint8_t type, uint8_t post_header_len, std::string& scratch,
                            RowsEvent& out);

// Decodes row images against a schema. Owns the JSON scratch state needed for
// partial JSON updates. One per capture thread.
class RowImageDecoder {
 public:
  // Decodes one image at r's cursor into `out` (resized to the column count;
  // columns absent from the image are ValueKind::kAbsent). For the after
  // image of a partial update, `before` supplies the JSON documents the diffs
  // apply to. On error, the Status names the column; the caller adds table and position.
  Status Decode(ByteReader& r, const TableSchema& schema, std::string_view present, bool partial_after,
                const std::vector<Value>* before, Arena& arena, std::vector<Value>& out);

 private:
  std::string json_scratch_;
};

}  // namespace sluice::mysql
