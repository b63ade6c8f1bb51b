#pragma once
// Decimal: the exact number type of the row filter (`amount = 19.90`,
// `price * qty > 100.00`). MySQL computes DECIMAL values exactly, and a
// filter that went through double would disagree with the source database
// on money columns (0.1 + 0.2 = 0.3 is TRUE in MySQL), so a filter never
// does.
//
// Representation: a sign, a 256-bit unsigned magnitude and a scale (the
// number of fraction digits): 19.90 is {+, 1990, 2}. 2^256 > 10^77, so every
// DECIMAL(65, s) value and every filter literal of up to kMaxDigits digits
// fits, with room for sums and products of column values. A result that does
// not fit is reported (the functions return false), never rounded, because a
// silently wrong comparison would put the wrong rows in the target. The type
// is trivially copyable and never allocates: it runs per row.
//
// Scales follow MySQL: a + b and a - b keep the larger scale, a * b adds the
// scales (rounded to kMaxScale beyond it, like MySQL's DECIMAL_MAX_SCALE),
// a / b has the dividend's scale plus kDivScaleIncrement (MySQL's default
// div_precision_increment), rounded half away from zero like MySQL.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::transform {

class Decimal {
 public:
  static constexpr int kMaxScale = 30;          // MySQL DECIMAL_MAX_SCALE
  static constexpr int kDivScaleIncrement = 4;  // MySQL div_precision_increment default
  static constexpr int kMaxDigits = 76;         // 10^76 < 2^256: any such digit string fits
  // Longest text Format writes: sign, up to 78 digits, the point, "0.".
  static constexpr size_t kMaxTextSize = 96;

  Decimal() = default;
  static Decimal FromInt(int64_t v);
  static Decimal FromUInt(uint64_t v);

  // Parses "[+-]digits[.digits]" (also ".5" and "5."): the text of a DECIMAL
  // column value or of a filter literal. No spaces, no exponent. False when
  // malformed, or longer than kMaxDigits significant digits or kMaxDigits
  // fraction digits.
  [[nodiscard]] static bool Parse(std::string_view text, Decimal* out);

  bool negative() const { return negative_; }
  int scale() const { return scale_; }
  bool is_zero() const;

  // Numeric order: 19.90 == 19.900, -1 < 0.5. Never overflows.
  int Compare(const Decimal& other) const;
  bool operator==(const Decimal& other) const { return Compare(other) == 0; }

  // Arithmetic; false when the result does not fit (see the file comment).
  // Div and Mod and IntDiv require !b.is_zero() (the filter maps x / 0 to
  // NULL before calling them, as MySQL does).
  [[nodiscard]] static bool Add(const Decimal& a, const Decimal& b, Decimal* out);
  [[nodiscard]] static bool Sub(const Decimal& a, const Decimal& b, Decimal* out);
  [[nodiscard]] static bool Mul(const Decimal& a, const Decimal& b, Decimal* out);
  [[nodiscard]] static bool Div(const Decimal& a, const Decimal& b, Decimal* out);
  // a MOD b: the remainder of the truncated quotient; it takes a's sign and
  // the larger scale (MySQL: 5.5 MOD 2 = 1.5, -7 MOD 2 = -1).
  [[nodiscard]] static bool Mod(const Decimal& a, const Decimal& b, Decimal* out);
  // a DIV b: the quotient truncated toward zero, scale 0.
  [[nodiscard]] static bool IntDiv(const Decimal& a, const Decimal& b, Decimal* out);
  Decimal Negated() const;
  Decimal Abs() const;

  // The value truncated toward zero, if it fits.
  [[nodiscard]] bool TruncateToInt64(int64_t* out) const;
  [[nodiscard]] bool TruncateToUInt64(uint64_t* out) const;
  // For reading a number as a date or time (20240131.5 -> 20240131 and
  // 500000 microseconds): the truncated magnitude of the integer part, if it
  // fits in 64 bits, and the first six fraction digits.
  [[nodiscard]] bool IntegerPartMagnitude(uint64_t* out) const;
  uint32_t FractionMicros() const;

  // The nearest double (correctly rounded, as MySQL's conversion through
  // the decimal's text).
  double ToDouble() const;

  // "-12.50": exactly scale() fraction digits, "0" for a zero integer part.
  // buf must hold kMaxTextSize bytes; returns the length written.
  size_t Format(char* buf) const;
  std::string ToString() const;

  // 256-bit unsigned integer, little-endian 64-bit words. Public only so that
  // the tests can check the long division directly.
  struct U256 {
    uint64_t w[4] = {0, 0, 0, 0};

    bool IsZero() const { return (w[0] | w[1] | w[2] | w[3]) == 0; }
    static int Cmp(const U256& a, const U256& b);
    [[nodiscard]] bool Add(const U256& o);  // false on overflow
    void Sub(const U256& o);                // requires *this >= o
    [[nodiscard]] bool MulSmall(uint64_t m);
    [[nodiscard]] bool AddSmall(uint64_t a);
    [[nodiscard]] bool MulPow10(int k);
    uint64_t DivSmall(uint64_t d);  // *this /= d (d != 0); returns the remainder
    [[nodiscard]] static bool Mul(const U256& a, const U256& b, U256* out);
    static void DivMod(const U256& a, const U256& b, U256* q, U256* r);  // b != 0
    // Divides by 10^k rounding half up (on the magnitude, i.e. half away from
    // zero for the signed decimal).
    void DivPow10Round(int k);
    void DivPow10Trunc(int k);
    int BitLength() const;
  };

 private:
  // Brings a and b to a common scale (the larger one). False on overflow.
  static bool Align(const Decimal& a, const Decimal& b, U256* am, U256* bm, int* scale);
  void Normalize() {
    if (magnitude_.IsZero()) {
      negative_ = false;
    }
  }

  U256 magnitude_;
  int16_t scale_ = 0;
  bool negative_ = false;
};

}  // namespace sluice::transform
