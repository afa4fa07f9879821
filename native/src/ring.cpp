// Elementwise kernels over Z_2^64: int64 buffers with two's-complement wrap-around. The
// arithmetic is done on uint64 (whose overflow is defined) and stored back bit-for-bit.
#include <stdexcept>
#include <string>

#include "he_native/kernels.hpp"
#include "he_native/parallel.hpp"
#include "he_native/platform.hpp"

namespace he_native {
namespace {

using u64 = std::uint64_t;
using i64 = std::int64_t;

constexpr std::size_t kGrain = std::size_t{1} << 17;

HE_INLINE void beaver_mul_body(const i64* a, const i64* b, const i64* c, const i64* e,
                               const i64* f, i64* out, std::size_t n, bool include_ef) {
    if (include_ef) {
        // c + e*b + a*f + e*f == c + e*(b + f) + a*f: one multiplication fewer.
        for (std::size_t i = 0; i < n; ++i) {
            u64 fi = static_cast<u64>(f[i]);
            out[i] = static_cast<i64>(static_cast<u64>(c[i]) +
                                      static_cast<u64>(e[i]) * (static_cast<u64>(b[i]) + fi) +
                                      static_cast<u64>(a[i]) * fi);
        }
    } else {
        for (std::size_t i = 0; i < n; ++i) {
            out[i] = static_cast<i64>(static_cast<u64>(c[i]) +
                                      static_cast<u64>(e[i]) * static_cast<u64>(b[i]) +
                                      static_cast<u64>(a[i]) * static_cast<u64>(f[i]));
        }
    }
}
HE_MULTIVERSION(void, beaver_mul_range, beaver_mul_body,
                (const i64* a, const i64* b, const i64* c, const i64* e, const i64* f, i64* out,
                 std::size_t n, bool include_ef),
                (a, b, c, e, f, out, n, include_ef))

HE_INLINE void shift_body(const i64* x, i64* out, std::size_t n, unsigned bits) {
    // Arithmetic shift on a signed value (defined behaviour since C++20, and what GCC,
    // Clang and MSVC have always done).
    for (std::size_t i = 0; i < n; ++i) out[i] = x[i] >> bits;
}
HE_MULTIVERSION(void, shift_range, shift_body,
                (const i64* x, i64* out, std::size_t n, unsigned bits), (x, out, n, bits))

HE_INLINE void trunc_body(const i64* c, const i64* r_trunc, const i64* r_msb, i64* out,
                          std::size_t n, unsigned bits, bool lead) {
    // See the he_learn._native docstring for the derivation. The wrap correction is
    // (r_msb * (1 - msb(c))) << (64 - bits); shifting in two steps keeps bits == 0 defined
    // (a shift by 64 would be undefined in C++; the value is 0 mod 2^64).
    const u64 offset = lead ? (u64{1} << 62) >> bits : 0;
    const unsigned hi_shift = 63 - bits;
    for (std::size_t i = 0; i < n; ++i) {
        u64 ci = static_cast<u64>(c[i]);
        u64 not_msb_c = (ci >> 63) ^ 1u;
        u64 wrap = ((static_cast<u64>(r_msb[i]) * not_msb_c) << hi_shift) << 1;
        u64 public_part = lead ? (ci >> bits) - offset : 0;
        out[i] = static_cast<i64>(public_part - static_cast<u64>(r_trunc[i]) + wrap);
    }
}
HE_MULTIVERSION(void, trunc_range, trunc_body,
                (const i64* c, const i64* r_trunc, const i64* r_msb, i64* out, std::size_t n,
                 unsigned bits, bool lead),
                (c, r_trunc, r_msb, out, n, bits, lead))

void check_bits(const char* op, unsigned bits, unsigned limit) {
    if (bits >= limit)
        throw std::invalid_argument(std::string(op) + ": bits = " + std::to_string(bits) +
                                    " is outside [0, " + std::to_string(limit) + ")");
}

// trunc_share's 2^62 offset divides out exactly only for shifts up to 62 bits.
constexpr unsigned kTruncBitsLimit = 63;

}  // namespace

void beaver_mul(const i64* a, const i64* b, const i64* c, const i64* e, const i64* f, i64* out,
                std::size_t n, bool include_ef) {
    parallel_for(n, kGrain, 64, [&](std::size_t lo, std::size_t hi) {
        beaver_mul_range(a + lo, b + lo, c + lo, e + lo, f + lo, out + lo, hi - lo, include_ef);
    });
}

void ring_shift_right(const i64* x, i64* out, std::size_t n, unsigned bits) {
    check_bits("ring_shift_right", bits, 64);
    parallel_for(n, kGrain, 64, [&](std::size_t lo, std::size_t hi) {
        shift_range(x + lo, out + lo, hi - lo, bits);
    });
}

void trunc_share(const i64* c, const i64* r_trunc, const i64* r_msb, i64* out, std::size_t n,
                 unsigned bits, bool lead) {
    check_bits("trunc_share", bits, kTruncBitsLimit);
    parallel_for(n, kGrain, 64, [&](std::size_t lo, std::size_t hi) {
        trunc_range(c + lo, r_trunc + lo, r_msb + lo, out + lo, hi - lo, bits, lead);
    });
}

}  // namespace he_native
