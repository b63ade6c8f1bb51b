#include "sink/merge.h"

#include <cstring>
#include <string_view>
#include <unordered_map>

namespace sluice::sink {
namespace {

uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h;
}

uint64_t HashBytes(std::string_view s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// Integers of different kinds with the same value must hash alike: a key
// decoded as signed in one event and unsigned in another is the same key.
uint64_t HashValue(const Value& v) {
  switch (v.kind) {
    case ValueKind::kNull:
    case ValueKind::kAbsent:
      return 0;
    case ValueKind::kInt:
    case ValueKind::kYear:
      return static_cast<uint64_t>(v.i);
    case ValueKind::kUInt:
    case ValueKind::kBit:
      return v.u;
    case ValueKind::kFloat:
    case ValueKind::kDouble: {
      uint64_t bits;
      static_assert(sizeof bits == sizeof v.d);
      std::memcpy(&bits, &v.d, sizeof bits);
      return bits;
    }
    default:
      return HashBytes(v.s);
  }
}

struct KeyRef {
  const SinkChange* c;
};
struct KeyRefHash {
  size_t operator()(const KeyRef& k) const { return KeyHash(*k.c); }
};
struct KeyRefEq {
  bool operator()(const KeyRef& a, const KeyRef& b) const { return SameKey(*a.c, *b.c); }
};

}  // namespace

uint64_t KeyHash(const SinkChange& c) {
  // The table by name, not by address. The MySQL loader partitions by this
  // hash and keeps one checkpoint per partition in the target, so a key must
  // hash alike in the next process (after kill -9) too: with the address, a
  // row could move to a partition whose checkpoint is past it and be skipped.
  // It also agrees with SameKey(), which takes two schema versions of one
  // table (two addresses) for the same table.
  uint64_t h = Mix(HashBytes(c.table->db), HashBytes(c.table->table));
  for (uint32_t k : c.table->key) h = Mix(h, HashValue(c.values[k]));
  return h;
}

bool SameKey(const SinkChange& a, const SinkChange& b) {
  if (a.table.get() != b.table.get()) {
    if (a.table->db != b.table->db || a.table->table != b.table->table) return false;
  }
  if (!a.table->has_key()) return false;
  for (uint32_t k : a.table->key) {
    if (!SameValue(a.values[k], b.values[k])) return false;
  }
  return true;
}

std::vector<SinkChange> MergeByKey(std::vector<SinkChange> changes) {
  std::vector<SinkChange> out;
  // Reserved up front: `slot` keys point at elements of `out`, which must not move.
  out.reserve(changes.size());
  // key -> indexes in out of that key's entries, oldest first: one, unless
  // partial upserts (IsPartial) follow it.
  std::unordered_map<KeyRef, std::vector<size_t>, KeyRefHash, KeyRefEq> slot;
  slot.reserve(changes.size());
  std::vector<bool> dead;
  bool any_dead = false;
  for (SinkChange& c : changes) {
    if (!c.table->has_key()) {
      out.push_back(std::move(c));
      continue;
    }
    auto it = slot.find(KeyRef{&c});
    if (it == slot.end()) {
      out.push_back(std::move(c));
      slot.emplace(KeyRef{&out.back()}, std::vector<size_t>{out.size() - 1});
      continue;
    }
    if (IsPartial(c)) {
      // It says nothing about the values it lacks: the entries before it
      // stay, and it applies after them.
      out.push_back(std::move(c));
      it->second.push_back(out.size() - 1);
      continue;
    }
    // A later full change to the same key replaces the earlier ones: upserts
    // carry full images and deletes need only the key, so the last change is
    // the whole truth about that key at the end of the batch. It takes the
    // place of the newest one (after every other key's change it must follow).
    std::vector<size_t>& entries = it->second;
    SinkChange& prev = out[entries.back()];
    prev.kind = c.kind;
    prev.absent_means_default = c.absent_means_default;
    prev.values = std::move(c.values);
    prev.pos = std::move(c.pos);
    prev.ts_ms = c.ts_ms;
    prev.origin = std::move(c.origin);
    if (entries.size() > 1) {
      dead.resize(out.capacity(), false);
      for (size_t i = 0; i + 1 < entries.size(); ++i) dead[entries[i]] = true;
      any_dead = true;
      // The map's key points at the first entry, which goes: re-keyed on the survivor.
      size_t survivor = entries.back();
      slot.erase(it);
      slot.emplace(KeyRef{&out[survivor]}, std::vector<size_t>{survivor});
    }
  }
  if (any_dead) {
    size_t kept = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      if (i < dead.size() && dead[i]) continue;
      if (kept != i) out[kept] = std::move(out[i]);
      ++kept;
    }
    out.resize(kept);
  }
  return out;
}

}  // namespace sluice::sink
