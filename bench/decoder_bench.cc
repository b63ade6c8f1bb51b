// Decoder micro-benchmarks over real binlog bytes.
//
// A binlog file is read into memory once (gunzipped when it ends in .gz), cut
// into events, and every benchmark iteration feeds all of them, in order, to a
// fresh BinlogDecoder (fresh so that each pass sees the FORMAT_DESCRIPTION and
// TABLE_MAPs exactly as a reader of the file would). Nothing but decoding (and,
// for the JSON variant, rendering) is timed: no I/O, no gunzip.
//
// Inputs:
//   - ../shared/fixtures/binlog/mbcj-mysql-bin.sakila.gz (always): MySQL 5.5,
//     47,273 rows of the Sakila sample database over many column types.
//   - $SLUICE_BENCH_BINLOG (optional): any plain or gzipped binlog file, e.g.
//     one written by bench/tail_vs_mariadb_binlog.sh's server, to measure the
//     decoder on MariaDB's own events.
//
// Counters: items_per_second = rows/s = row changes per second, bytes_per_second
// = binlog bytes fed (events, magic excluded) per second, json_bytes_per_second
// = JSON produced; all per second of the benchmark thread's CPU time, in
// 1024-based units (M/s = MiB/s). rows_per_pass is the row count of the file,
// checked once before timing so a decoder that dropped rows cannot look fast.

#include <benchmark/benchmark.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/byte_reader.h"
#include "core/json_writer.h"
#include "source/mysql/binlog/event_types.h"
#include "source/mysql/binlog_decoder.h"
#include "source/source.h"

namespace {

using sluice::ByteReader;
using sluice::ChangeHandler;
using sluice::RowChange;
using sluice::Status;
using sluice::mysql::BinlogDecoder;
using sluice::mysql::kEventHeaderSize;

struct Event {
  std::string_view bytes;
  uint64_t offset;  // position in the file, as the file source passes it
};

// One binlog file held in memory, cut into events.
struct BinlogImage {
  std::string name;   // file name without .gz: the decoder's file for positions
  std::string bytes;  // the whole file, magic included
  std::vector<Event> events;
  uint64_t rows = 0;  // row changes in one pass (counted once, checked every pass)
};

std::string ReadWholeFile(const std::string& path) {
  // gzread reads plain files unchanged, so one path serves both forms.
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error("cannot open " + path);
  gzbuffer(f, 1 << 20);
  std::string out;
  // Plain files: reserve the whole size up front (a gzipped one grows).
  std::error_code ec;
  if (auto size = std::filesystem::file_size(path, ec); !ec) out.reserve(size);
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  int err = 0;
  const char* msg = gzerror(f, &err);
  std::string error = n < 0 ? std::string(msg) : std::string();
  gzclose(f);
  if (n < 0) throw std::runtime_error("read " + path + ": " + error);
  return out;
}

// Counts rows; the cheapest handler there is, so this measures the decoder.
class CountingHandler : public ChangeHandler {
 public:
  Status OnRow(const RowChange& row) override {
    benchmark::DoNotOptimize(row.after);
    ++rows;
    return Status::Ok();
  }
  uint64_t rows = 0;
};

// Renders each row as `sluice tail --format json` would, into one reused
// string (what the tail writer does, minus the write to stdout).
class JsonHandler : public ChangeHandler {
 public:
  JsonHandler() { out_.reserve(1 << 16); }
  Status OnRow(const RowChange& row) override {
    out_.clear();
    sluice::AppendRowChangeJson(out_, row);
    out_.push_back('\n');
    benchmark::DoNotOptimize(out_.data());
    json_bytes += out_.size();
    ++rows;
    return Status::Ok();
  }
  uint64_t rows = 0;
  uint64_t json_bytes = 0;

 private:
  std::string out_;
};

// Feeds every event of `image` to a fresh decoder. Returns false (and reports
// the error to `state`) if decoding fails: a benchmark of a failing decoder
// would measure the error path.
template <typename Handler>
bool DecodeOnce(const BinlogImage& image, Handler& handler, benchmark::State& state) {
  BinlogDecoder decoder(BinlogDecoder::Options{});
  decoder.SetFile(image.name);
  for (const Event& e : image.events) {
    Status st = decoder.Feed(e.bytes, handler, e.offset);
    if (!st.ok()) {
      state.SkipWithError(("decode " + image.name + " @" + std::to_string(e.offset) + ": " + st.message()).c_str());
      return false;
    }
  }
  return true;
}

std::unique_ptr<BinlogImage> LoadImage(const std::string& path) {
  auto image = std::make_unique<BinlogImage>();
  image->bytes = ReadWholeFile(path);
  std::string name = path.substr(path.find_last_of('/') + 1);
  if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0) name.resize(name.size() - 3);
  image->name = name;

  static constexpr char kMagic[4] = {'\xfe', 'b', 'i', 'n'};
  if (image->bytes.size() < 4 || image->bytes.compare(0, 4, kMagic, 4) != 0) {
    throw std::runtime_error(path + " is not a binlog file");
  }
  // Event header: timestamp:4 type:1 server_id:4 event_size:4 log_pos:4 flags:2.
  ByteReader r(image->bytes);
  r.Skip(4);
  while (!r.at_end()) {
    size_t start = r.pos();
    ByteReader header(r.cursor(), r.remaining());
    header.Skip(9);
    uint32_t size = header.U32();
    if (!header.ok() || size < kEventHeaderSize || !r.Skip(size)) {
      throw std::runtime_error(path + ": truncated or damaged event at offset " + std::to_string(start));
    }
    image->events.push_back({std::string_view(image->bytes).substr(start, size), start});
  }
  return image;
}

void BM_DecodeCountRows(benchmark::State& state, const BinlogImage* image) {
  uint64_t rows = 0;
  for (auto _ : state) {
    CountingHandler h;
    if (!DecodeOnce(*image, h, state)) return;
    rows += h.rows;
    benchmark::DoNotOptimize(h.rows);
  }
  state.SetItemsProcessed(static_cast<int64_t>(rows));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * (image->bytes.size() - 4)));
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
  state.counters["rows_per_pass"] = static_cast<double>(image->rows);
}

void BM_DecodeJson(benchmark::State& state, const BinlogImage* image) {
  uint64_t rows = 0;
  uint64_t json_bytes = 0;
  for (auto _ : state) {
    JsonHandler h;
    if (!DecodeOnce(*image, h, state)) return;
    rows += h.rows;
    json_bytes += h.json_bytes;
  }
  state.SetItemsProcessed(static_cast<int64_t>(rows));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * (image->bytes.size() - 4)));
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
  state.counters["json_bytes_per_second"] = benchmark::Counter(
      static_cast<double>(json_bytes), benchmark::Counter::kIsRate, benchmark::Counter::OneK::kIs1024);
  state.counters["rows_per_pass"] = static_cast<double>(image->rows);
}

// Loads `path`, checks it decodes and has rows, and registers both benchmarks.
void RegisterFor(const std::string& label, const std::string& path, std::vector<std::unique_ptr<BinlogImage>>& keep) {
  std::unique_ptr<BinlogImage> image;
  try {
    image = LoadImage(path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "decoder_bench: %s\n", e.what());
    std::exit(2);
  }
  // Count once outside the timing, so a decoder that silently drops rows shows
  // in rows_per_pass rather than as a faster benchmark.
  BinlogDecoder decoder(BinlogDecoder::Options{});
  decoder.SetFile(image->name);
  CountingHandler h;
  for (const Event& e : image->events) {
    Status st = decoder.Feed(e.bytes, h, e.offset);
    if (!st.ok()) {
      std::fprintf(stderr, "decoder_bench: %s does not decode: %s\n", path.c_str(), st.message().c_str());
      std::exit(2);
    }
  }
  if (h.rows == 0) {
    std::fprintf(stderr, "decoder_bench: %s has no row changes\n", path.c_str());
    std::exit(2);
  }
  image->rows = h.rows;
  std::fprintf(stderr, "decoder_bench: %s: %zu events, %zu bytes, %llu rows\n", path.c_str(), image->events.size(),
               image->bytes.size(), static_cast<unsigned long long>(h.rows));
  const BinlogImage* p = image.get();
  keep.push_back(std::move(image));
  benchmark::RegisterBenchmark(("BM_DecodeCountRows/" + label).c_str(), BM_DecodeCountRows, p)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark(("BM_DecodeJson/" + label).c_str(), BM_DecodeJson, p)->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::unique_ptr<BinlogImage>> images;
  RegisterFor("sakila", std::string(SLUICE_FIXTURES_DIR) + "/binlog/mbcj-mysql-bin.sakila.gz", images);
  if (const char* extra = std::getenv("SLUICE_BENCH_BINLOG"); extra != nullptr && *extra != '\0') {
    RegisterFor("custom", extra, images);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
