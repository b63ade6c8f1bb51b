// Fixed-width decimal digits for the decoders' text values (DECIMAL groups,
// dates, times, fractions): two digits per table lookup instead of one
// division each, because formatting these is a visible share of capture.
#pragma once

#include <cstdint>
#include <cstring>

namespace sluice::mysql {

inline constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

// Writes v as exactly W digits, zero-padded; v < 10^W.
template <int W>
inline char* PutDigitsN(char* p, uint32_t v) {
  int i = W;
  while (i >= 2) {  // unrolled: W is a constant
    i -= 2;
    std::memcpy(p + i, kDigitPairs + 2 * (v % 100), 2);
    v /= 100;
  }
  if (i == 1) p[0] = static_cast<char>('0' + v);
  return p + W;
}

// Writes v as exactly `width` digits (0..10), zero-padded; v < 10^width.
inline char* PutDigits(char* p, uint32_t v, int width) {
  switch (width) {
    case 0: return p;
    case 1: return PutDigitsN<1>(p, v);
    case 2: return PutDigitsN<2>(p, v);
    case 3: return PutDigitsN<3>(p, v);
    case 4: return PutDigitsN<4>(p, v);
    case 5: return PutDigitsN<5>(p, v);
    case 6: return PutDigitsN<6>(p, v);
    case 7: return PutDigitsN<7>(p, v);
    case 8: return PutDigitsN<8>(p, v);
    case 9: return PutDigitsN<9>(p, v);
    default: return PutDigitsN<10>(p, v);
  }
}

}  // namespace sluice::mysql
