#include "transform/filter_decimal.h"

#include <algorithm>
#include <charconv>

namespace sluice::transform {
namespace {

// GCC and Clang both provide 128-bit integers; __extension__ keeps
// -Wpedantic quiet about the non-ISO type. Only the 64x64->128 products and
// 128/64 divisions of the word arithmetic below use it.
__extension__ typedef unsigned __int128 u128;

constexpr uint64_t kPow10[20] = {1ULL,
                                 10ULL,
                                 100ULL,
                                 1000ULL,
                                 10000ULL,
                                 100000ULL,
                                 1000000ULL,
                                 10000000ULL,
                                 100000000ULL,
                                 1000000000ULL,
                                 10000000000ULL,
                                 100000000000ULL,
                                 1000000000000ULL,
                                 10000000000000ULL,
                                 100000000000000ULL,
                                 1000000000000000ULL,
                                 10000000000000000ULL,
                                 100000000000000000ULL,
                                 1000000000000000000ULL,
                                 10000000000000000000ULL};

}  // namespace

// ---- U256 ------------------------------------------------------------------

int Decimal::U256::Cmp(const U256& a, const U256& b) {
  for (int i = 3; i >= 0; --i) {
    if (a.w[i] != b.w[i]) {
      return a.w[i] < b.w[i] ? -1 : 1;
    }
  }
  return 0;
}

bool Decimal::U256::Add(const U256& o) {
  uint64_t carry = 0;
  for (int i = 0; i < 4; ++i) {
    u128 s = static_cast<u128>(w[i]) + o.w[i] + carry;
    w[i] = static_cast<uint64_t>(s);
    carry = static_cast<uint64_t>(s >> 64);
  }
  return carry == 0;
}

void Decimal::U256::Sub(const U256& o) {
  uint64_t borrow = 0;
  for (int i = 0; i < 4; ++i) {
    uint64_t x = w[i];
    uint64_t d = x - o.w[i] - borrow;
    borrow = (x < o.w[i] || (x == o.w[i] && borrow)) ? 1 : 0;
    w[i] = d;
  }
}

bool Decimal::U256::MulSmall(uint64_t m) {
  uint64_t carry = 0;
  for (int i = 0; i < 4; ++i) {
    u128 p = static_cast<u128>(w[i]) * m + carry;
    w[i] = static_cast<uint64_t>(p);
    carry = static_cast<uint64_t>(p >> 64);
  }
  return carry == 0;
}

bool Decimal::U256::AddSmall(uint64_t a) {
  for (int i = 0; i < 4 && a != 0; ++i) {
    uint64_t before = w[i];
    w[i] += a;
    a = w[i] < before ? 1 : 0;  // the carry into the next word
  }
  return a == 0;
}

bool Decimal::U256::MulPow10(int k) {
  while (k > 0) {
    int step = std::min(k, 19);
    if (!MulSmall(kPow10[step])) {
      return false;
    }
    k -= step;
  }
  return true;
}

uint64_t Decimal::U256::DivSmall(uint64_t d) {
  u128 rem = 0;
  for (int i = 3; i >= 0; --i) {
    u128 cur = (rem << 64) | w[i];
    w[i] = static_cast<uint64_t>(cur / d);
    rem = cur % d;
  }
  return static_cast<uint64_t>(rem);
}

bool Decimal::U256::Mul(const U256& a, const U256& b, U256* out) {
  // Schoolbook product into 8 words; any bit above word 3 is an overflow.
  uint64_t r[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 4; ++i) {
    if (a.w[i] == 0) {
      continue;
    }
    uint64_t carry = 0;
    for (int j = 0; j < 4; ++j) {
      u128 p = static_cast<u128>(a.w[i]) * b.w[j] + r[i + j] + carry;
      r[i + j] = static_cast<uint64_t>(p);
      carry = static_cast<uint64_t>(p >> 64);
    }
    r[i + 4] = carry;
  }
  if ((r[4] | r[5] | r[6] | r[7]) != 0) {
    return false;
  }
  for (int i = 0; i < 4; ++i) {
    out->w[i] = r[i];
  }
  return true;
}

int Decimal::U256::BitLength() const {
  for (int i = 3; i >= 0; --i) {
    if (w[i] != 0) {
      return i * 64 + 64 - __builtin_clzll(w[i]);
    }
  }
  return 0;
}

void Decimal::U256::DivMod(const U256& a, const U256& b, U256* q, U256* r) {
  if ((b.w[1] | b.w[2] | b.w[3]) == 0) {
    // The common case (divisors below 2^64) in word steps.
    U256 quot = a;
    uint64_t rem = quot.DivSmall(b.w[0]);
    *q = quot;
    *r = U256();
    r->w[0] = rem;
    return;
  }
  // Binary long division: at most 256 shift-and-subtract steps, and only for
  // divisors of more than 19 digits, which filters rarely divide by.
  U256 quot;
  U256 rem;
  for (int bit = a.BitLength() - 1; bit >= 0; --bit) {
    bool carry = (rem.w[3] >> 63) != 0;
    for (int i = 3; i > 0; --i) {
      rem.w[i] = (rem.w[i] << 1) | (rem.w[i - 1] >> 63);
    }
    rem.w[0] = (rem.w[0] << 1) | ((a.w[bit / 64] >> (bit % 64)) & 1);
    // With the carry the true remainder is 2^256 + rem > b; the wrapping
    // subtraction below still yields the right (smaller than b) value.
    if (carry || Cmp(rem, b) >= 0) {
      rem.Sub(b);
      quot.w[bit / 64] |= uint64_t{1} << (bit % 64);
    }
  }
  *q = quot;
  *r = rem;
}

void Decimal::U256::DivPow10Trunc(int k) {
  while (k > 0) {
    int step = std::min(k, 19);
    DivSmall(kPow10[step]);
    k -= step;
  }
}

void Decimal::U256::DivPow10Round(int k) {
  if (k <= 0) {
    return;
  }
  // Truncating in steps composes (floor(floor(x/a)/b) = floor(x/ab)); the
  // last dropped digit alone decides half-up rounding.
  DivPow10Trunc(k - 1);
  uint64_t last = DivSmall(10);
  if (last >= 5) {
    // Cannot overflow: the value was just divided by at least 10.
    (void)AddSmall(1);
  }
}

// ---- Decimal ---------------------------------------------------------------

Decimal Decimal::FromInt(int64_t v) {
  Decimal d;
  d.negative_ = v < 0;
  // Negate in unsigned arithmetic so that INT64_MIN does not overflow.
  d.magnitude_.w[0] = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  return d;
}

Decimal Decimal::FromUInt(uint64_t v) {
  Decimal d;
  d.magnitude_.w[0] = v;
  return d;
}

bool Decimal::Parse(std::string_view text, Decimal* out) {
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    negative = text[i] == '-';
    ++i;
  }
  size_t int_begin = i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    ++i;
  }
  size_t int_end = i;
  size_t frac_begin = i;
  size_t frac_end = i;
  if (i < text.size() && text[i] == '.') {
    frac_begin = ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      ++i;
    }
    frac_end = i;
  }
  if (i != text.size() || (int_end == int_begin && frac_end == frac_begin)) {
    return false;
  }
  while (int_begin < int_end && text[int_begin] == '0') {
    ++int_begin;
  }
  size_t frac_digits = frac_end - frac_begin;
  if (frac_digits > kMaxDigits || (int_end - int_begin) + frac_digits > kMaxDigits) {
    return false;
  }

  Decimal d;
  // Accumulate up to 19 digits per 64-bit step.
  uint64_t chunk = 0;
  int chunk_digits = 0;
  auto feed = [&](char c) {
    chunk = chunk * 10 + static_cast<uint64_t>(c - '0');
    if (++chunk_digits == 19) {
      // Cannot overflow: at most kMaxDigits digits in all.
      (void)d.magnitude_.MulSmall(kPow10[19]);
      (void)d.magnitude_.AddSmall(chunk);
      chunk = 0;
      chunk_digits = 0;
    }
  };
  for (size_t k = int_begin; k < int_end; ++k) {
    feed(text[k]);
  }
  for (size_t k = frac_begin; k < frac_end; ++k) {
    feed(text[k]);
  }
  if (chunk_digits > 0) {
    (void)d.magnitude_.MulSmall(kPow10[chunk_digits]);
    (void)d.magnitude_.AddSmall(chunk);
  }
  d.scale_ = static_cast<int16_t>(frac_digits);
  d.negative_ = negative;
  d.Normalize();
  *out = d;
  return true;
}

bool Decimal::is_zero() const { return magnitude_.IsZero(); }

int Decimal::Compare(const Decimal& other) const {
  if (negative_ != other.negative_) {
    return negative_ ? -1 : 1;
  }
  int mag;
  if (scale_ == other.scale_) {
    mag = U256::Cmp(magnitude_, other.magnitude_);
  } else if (scale_ < other.scale_) {
    U256 x = magnitude_;
    // If scaling up overflows, x is larger than anything that fits.
    mag = x.MulPow10(other.scale_ - scale_) ? U256::Cmp(x, other.magnitude_) : 1;
  } else {
    U256 y = other.magnitude_;
    mag = y.MulPow10(scale_ - other.scale_) ? U256::Cmp(magnitude_, y) : -1;
  }
  return negative_ ? -mag : mag;
}

bool Decimal::Align(const Decimal& a, const Decimal& b, U256* am, U256* bm, int* scale) {
  *scale = std::max(a.scale_, b.scale_);
  *am = a.magnitude_;
  *bm = b.magnitude_;
  return am->MulPow10(*scale - a.scale_) && bm->MulPow10(*scale - b.scale_);
}

bool Decimal::Add(const Decimal& a, const Decimal& b, Decimal* out) {
  U256 am;
  U256 bm;
  int scale;
  if (!Align(a, b, &am, &bm, &scale)) {
    return false;
  }
  Decimal r;
  r.scale_ = static_cast<int16_t>(scale);
  if (a.negative_ == b.negative_) {
    if (!am.Add(bm)) {
      return false;
    }
    r.magnitude_ = am;
    r.negative_ = a.negative_;
  } else if (U256::Cmp(am, bm) >= 0) {
    am.Sub(bm);
    r.magnitude_ = am;
    r.negative_ = a.negative_;
  } else {
    bm.Sub(am);
    r.magnitude_ = bm;
    r.negative_ = b.negative_;
  }
  r.Normalize();
  *out = r;
  return true;
}

bool Decimal::Sub(const Decimal& a, const Decimal& b, Decimal* out) { return Add(a, b.Negated(), out); }

bool Decimal::Mul(const Decimal& a, const Decimal& b, Decimal* out) {
  Decimal r;
  if (!U256::Mul(a.magnitude_, b.magnitude_, &r.magnitude_)) {
    return false;
  }
  int scale = a.scale_ + b.scale_;
  int cap = std::max({kMaxScale, static_cast<int>(a.scale_), static_cast<int>(b.scale_)});
  if (scale > cap) {
    r.magnitude_.DivPow10Round(scale - cap);
    scale = cap;
  }
  r.scale_ = static_cast<int16_t>(scale);
  r.negative_ = a.negative_ != b.negative_;
  r.Normalize();
  *out = r;
  return true;
}

bool Decimal::Div(const Decimal& a, const Decimal& b, Decimal* out) {
  // a/b = (A / 10^sa) / (B / 10^sb); the result at scale rs is
  // round(A * 10^(sb + rs - sa) / B). rs >= sa, so the exponent is >= 0.
  int rs = std::min(a.scale_ + kDivScaleIncrement, std::max(kMaxScale, static_cast<int>(a.scale_)));
  U256 n = a.magnitude_;
  if (!n.MulPow10(b.scale_ + rs - a.scale_)) {
    return false;
  }
  Decimal r;
  U256 rem;
  U256::DivMod(n, b.magnitude_, &r.magnitude_, &rem);
  // Half away from zero: round up when rem >= B - rem (i.e. 2 rem >= B,
  // written so that it cannot overflow).
  U256 half = b.magnitude_;
  half.Sub(rem);
  if (U256::Cmp(rem, half) >= 0 && !r.magnitude_.AddSmall(1)) {
    return false;
  }
  r.scale_ = static_cast<int16_t>(rs);
  r.negative_ = a.negative_ != b.negative_;
  r.Normalize();
  *out = r;
  return true;
}

bool Decimal::Mod(const Decimal& a, const Decimal& b, Decimal* out) {
  U256 am;
  U256 bm;
  int scale;
  if (!Align(a, b, &am, &bm, &scale)) {
    return false;
  }
  Decimal r;
  U256 q;
  U256::DivMod(am, bm, &q, &r.magnitude_);
  r.scale_ = static_cast<int16_t>(scale);
  r.negative_ = a.negative_;
  r.Normalize();
  *out = r;
  return true;
}

bool Decimal::IntDiv(const Decimal& a, const Decimal& b, Decimal* out) {
  U256 am;
  U256 bm;
  int scale;
  if (!Align(a, b, &am, &bm, &scale)) {
    return false;
  }
  Decimal r;
  U256 rem;
  U256::DivMod(am, bm, &r.magnitude_, &rem);
  r.negative_ = a.negative_ != b.negative_;
  r.Normalize();
  *out = r;
  return true;
}

Decimal Decimal::Negated() const {
  Decimal r = *this;
  r.negative_ = !negative_;
  r.Normalize();
  return r;
}

Decimal Decimal::Abs() const {
  Decimal r = *this;
  r.negative_ = false;
  return r;
}

bool Decimal::IntegerPartMagnitude(uint64_t* out) const {
  U256 x = magnitude_;
  x.DivPow10Trunc(scale_);
  if ((x.w[1] | x.w[2] | x.w[3]) != 0) {
    return false;
  }
  *out = x.w[0];
  return true;
}

bool Decimal::TruncateToInt64(int64_t* out) const {
  uint64_t m;
  if (!IntegerPartMagnitude(&m)) {
    return false;
  }
  if (negative_) {
    if (m > static_cast<uint64_t>(INT64_MAX) + 1) {
      return false;
    }
    *out = static_cast<int64_t>(0 - m);
  } else {
    if (m > static_cast<uint64_t>(INT64_MAX)) {
      return false;
    }
    *out = static_cast<int64_t>(m);
  }
  return true;
}

bool Decimal::TruncateToUInt64(uint64_t* out) const {
  uint64_t m;
  if (!IntegerPartMagnitude(&m)) {
    return false;
  }
  if (negative_ && m != 0) {
    return false;
  }
  *out = m;
  return true;
}

uint32_t Decimal::FractionMicros() const {
  // The fraction digits are magnitude mod 10^scale; keep the first six.
  U256 integer = magnitude_;
  integer.DivPow10Trunc(scale_);
  (void)integer.MulPow10(scale_);  // cannot overflow: it is <= magnitude_
  U256 frac = magnitude_;
  frac.Sub(integer);
  if (scale_ > 6) {
    frac.DivPow10Trunc(scale_ - 6);
  } else {
    (void)frac.MulPow10(6 - scale_);  // < 10^6
  }
  return static_cast<uint32_t>(frac.w[0]);
}

size_t Decimal::Format(char* buf) const {
  // Digits of the magnitude, least significant first, 19 at a time.
  char digits[80];
  size_t n = 0;
  U256 x = magnitude_;
  for (;;) {
    uint64_t chunk = x.DivSmall(kPow10[19]);
    if (x.IsZero()) {
      // The most significant chunk: no leading zeros.
      do {
        digits[n++] = static_cast<char>('0' + chunk % 10);
        chunk /= 10;
      } while (chunk != 0);
      break;
    }
    for (int k = 0; k < 19; ++k) {
      digits[n++] = static_cast<char>('0' + chunk % 10);
      chunk /= 10;
    }
  }
  // Pad so that there is at least one integer digit.
  while (n < static_cast<size_t>(scale_) + 1) {
    digits[n++] = '0';
  }
  size_t len = 0;
  if (negative_) {
    buf[len++] = '-';
  }
  for (size_t k = n; k > 0; --k) {
    if (k == static_cast<size_t>(scale_) && scale_ > 0) {
      buf[len++] = '.';
    }
    buf[len++] = digits[k - 1];
  }
  return len;
}

std::string Decimal::ToString() const {
  char buf[kMaxTextSize];
  return std::string(buf, Format(buf));
}

double Decimal::ToDouble() const {
  char buf[kMaxTextSize];
  size_t len = Format(buf);
  double d = 0;
  std::from_chars(buf, buf + len, d);
  return d;
}

}  // namespace sluice::transform
