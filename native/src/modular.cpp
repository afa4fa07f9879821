// Arithmetic in Z_q for 2 <= q < 2^62, on int64 buffers whose entries must lie in [0, q).
//
// Range checks are fused into the arithmetic loops (an OR-reduction of `entry >= q` taken
// as unsigned, which also catches negatives), so validating costs no extra pass; only when
// a loop reports a bad entry do we rescan to name it in the error message.
//
// Products use Barrett reduction (Menezes, van Oorschot, Vanstone, Handbook of Applied
// Cryptography, Algorithm 14.42) with a per-modulus constant, so the hot loops contain
// multiplications and shifts but no division. For q < 2^31 all intermediates fit in
// 64 bits and the loops vectorise (vpmullq on AVX-512); for larger q the 128-bit product
// is formed with one mulx per element.
#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>

#include "he_native/kernels.hpp"
#include "he_native/parallel.hpp"
#include "he_native/platform.hpp"

#if HE_X86
#include <immintrin.h>
#endif

namespace he_native {
namespace {

using u64 = std::uint64_t;
using i64 = std::int64_t;
using u128 = unsigned __int128;

// Below this many elements per thread, a second thread costs more than it saves.
constexpr std::size_t kGrain = std::size_t{1} << 17;
// Moduli below 2^31 keep x*y and the Barrett product inside 64 bits.
constexpr u64 kSmallModulusBound = u64{1} << 31;
// Elements per cache tile in mod_sum (32 KiB of int64 output, about one L1 data cache).
constexpr std::size_t kSumTile = 4096;

unsigned bit_length(u64 v) { return 64u - static_cast<unsigned>(__builtin_clzll(v)); }

// HAC 14.42 with base 2: k = bitlen(q), mu = floor(2^(2k) / q) < 2^(k+1); for p < 2^(2k),
// q3 = ((p >> (k-1)) * mu) >> (k+1) underestimates floor(p/q) by at most 2.
struct Barrett {
    u64 q;
    u64 mu;
    unsigned k;
    explicit Barrett(u64 modulus) : q(modulus), k(bit_length(modulus)) {
        mu = static_cast<u64>((u128{1} << (2 * k)) / modulus);
    }
};

HE_INLINE u64 reduce_below_3q(u64 r, u64 q) {
    // r < 3q < 2^64: unsigned min picks r - q when it did not wrap.
    r = std::min(r, r - q);
    return std::min(r, r - q);
}

HE_INLINE u64 mulmod_small(u64 a, u64 b, u64 q, u64 mu, unsigned k) {
    u64 p = a * b;
    u64 q3 = ((p >> (k - 1)) * mu) >> (k + 1);
    return reduce_below_3q(p - q3 * q, q);
}

HE_INLINE u64 mulmod_big(u64 a, u64 b, u64 q, u64 mu, unsigned k) {
    u128 p = static_cast<u128>(a) * b;
    u64 q1 = static_cast<u64>(p >> (k - 1));
    u64 q3 = static_cast<u64>((static_cast<u128>(q1) * mu) >> (k + 1));
    return reduce_below_3q(static_cast<u64>(p) - q3 * q, q);
}

// ---- loop bodies: return true when some input entry lies outside [0, q) ----

HE_INLINE bool add_vv_body(const i64* x, const i64* y, i64* out, std::size_t n, u64 q) {
    u64 bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
        u64 a = static_cast<u64>(x[i]), b = static_cast<u64>(y[i]);
        bad |= static_cast<u64>(a >= q) | static_cast<u64>(b >= q);
        u64 s = a + b;
        out[i] = static_cast<i64>(std::min(s, s - q));
    }
    return bad != 0;
}
HE_MULTIVERSION(bool, add_vv, add_vv_body,
                (const i64* x, const i64* y, i64* out, std::size_t n, u64 q), (x, y, out, n, q))

HE_INLINE bool add_vs_body(const i64* x, u64 b, i64* out, std::size_t n, u64 q) {
    u64 bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
        u64 a = static_cast<u64>(x[i]);
        bad |= static_cast<u64>(a >= q);
        u64 s = a + b;
        out[i] = static_cast<i64>(std::min(s, s - q));
    }
    return bad != 0;
}
HE_MULTIVERSION(bool, add_vs, add_vs_body, (const i64* x, u64 b, i64* out, std::size_t n, u64 q),
                (x, b, out, n, q))

HE_INLINE bool sub_vv_body(const i64* x, const i64* y, i64* out, std::size_t n, u64 q) {
    u64 bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
        u64 a = static_cast<u64>(x[i]), b = static_cast<u64>(y[i]);
        bad |= static_cast<u64>(a >= q) | static_cast<u64>(b >= q);
        u64 d = a - b;  // wraps when a < b; then d + q is the answer
        out[i] = static_cast<i64>(std::min(d, d + q));
    }
    return bad != 0;
}
HE_MULTIVERSION(bool, sub_vv, sub_vv_body,
                (const i64* x, const i64* y, i64* out, std::size_t n, u64 q), (x, y, out, n, q))

HE_INLINE bool sub_vs_body(const i64* x, u64 b, i64* out, std::size_t n, u64 q) {
    u64 bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
        u64 a = static_cast<u64>(x[i]);
        bad |= static_cast<u64>(a >= q);
        u64 d = a - b;
        out[i] = static_cast<i64>(std::min(d, d + q));
    }
    return bad != 0;
}
HE_MULTIVERSION(bool, sub_vs, sub_vs_body, (const i64* x, u64 b, i64* out, std::size_t n, u64 q),
                (x, b, out, n, q))

HE_INLINE bool neg_body(const i64* x, i64* out, std::size_t n, u64 q) {
    u64 bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
        u64 a = static_cast<u64>(x[i]);
        bad |= static_cast<u64>(a >= q);
        out[i] = static_cast<i64>(std::min(q - a, u64{0} - a));  // 0 -> 0, a -> q - a
    }
    return bad != 0;
}
HE_MULTIVERSION(bool, neg, neg_body, (const i64* x, i64* out, std::size_t n, u64 q),
                (x, out, n, q))

HE_INLINE bool mul_small_vv_body(const i64* x, const i64* y, i64* out, std::size_t n, u64 q,
                                 u64 mu, unsigned k) {
    u64 bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
        u64 a = static_cast<u64>(x[i]), b = static_cast<u64>(y[i]);
        bad |= static_cast<u64>(a >= q) | static_cast<u64>(b >= q);
        // Entries >= q give a meaningless (but defined, unsigned) result; the call fails.
        out[i] = static_cast<i64>(mulmod_small(a, b, q, mu, k));
    }
    return bad != 0;
}
HE_MULTIVERSION(bool, mul_small_vv, mul_small_vv_body,
                (const i64* x, const i64* y, i64* out, std::size_t n, u64 q, u64 mu, unsigned k),
                (x, y, out, n, q, mu, k))

HE_INLINE bool mul_small_vs_body(const i64* x, u64 b, i64* out, std::size_t n, u64 q, u64 mu,
                                 unsigned k) {
    u64 bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
        u64 a = static_cast<u64>(x[i]);
        bad |= static_cast<u64>(a >= q);
        out[i] = static_cast<i64>(mulmod_small(a, b, q, mu, k));
    }
    return bad != 0;
}
HE_MULTIVERSION(bool, mul_small_vs, mul_small_vs_body,
                (const i64* x, u64 b, i64* out, std::size_t n, u64 q, u64 mu, unsigned k),
                (x, b, out, n, q, mu, k))

bool mul_big_vv_scalar(const i64* x, const i64* y, i64* out, std::size_t n, u64 q, u64 mu,
                       unsigned k) {
    u64 bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
        u64 a = static_cast<u64>(x[i]), b = static_cast<u64>(y[i]);
        bad |= static_cast<u64>(a >= q) | static_cast<u64>(b >= q);
        // Entries >= q give a meaningless (but defined, unsigned) result; the call fails.
        out[i] = static_cast<i64>(mulmod_big(a, b, q, mu, k));
    }
    return bad != 0;
}

// Shoup's precomputed-quotient multiplication by a fixed b < q: w = floor(b * 2^64 / q);
// then hi(a*w) underestimates floor(a*b/q) by at most 1.
u64 shoup_factor(u64 b, u64 q) { return static_cast<u64>((static_cast<u128>(b) << 64) / q); }

bool mul_big_vs_scalar(const i64* x, u64 b, u64 w, i64* out, std::size_t n, u64 q) {
    u64 bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
        u64 a = static_cast<u64>(x[i]);
        bad |= static_cast<u64>(a >= q);
        u64 qhat = static_cast<u64>((static_cast<u128>(a) * w) >> 64);
        u64 r = a * b - qhat * q;
        out[i] = static_cast<i64>(std::min(r, r - q));
    }
    return bad != 0;
}

#if HE_X86
// AVX-512 has no 64x64->128 multiply, so the full product is assembled from four
// 32x32->64 vpmuludq products (schoolbook on 32-bit halves, carries kept below 2^64).
// Even so, eight lanes at once run about 4x faster than scalar mulx on the same core.
HE_TARGET(HE_ISA_AVX512) HE_INLINE void mul_wide(__m512i a, __m512i b, __m512i& hi, __m512i& lo) {
    const __m512i low32 = _mm512_set1_epi64(0xffffffffLL);
    __m512i a_hi = _mm512_srli_epi64(a, 32), b_hi = _mm512_srli_epi64(b, 32);
    __m512i ll = _mm512_mul_epu32(a, b), lh = _mm512_mul_epu32(a, b_hi);
    __m512i hl = _mm512_mul_epu32(a_hi, b), hh = _mm512_mul_epu32(a_hi, b_hi);
    __m512i t = _mm512_add_epi64(lh, _mm512_srli_epi64(ll, 32));
    __m512i u = _mm512_add_epi64(hl, _mm512_and_si512(t, low32));
    lo = _mm512_or_si512(_mm512_slli_epi64(u, 32), _mm512_and_si512(ll, low32));
    hi = _mm512_add_epi64(_mm512_add_epi64(hh, _mm512_srli_epi64(t, 32)), _mm512_srli_epi64(u, 32));
}

HE_TARGET(HE_ISA_AVX512) bool mul_big_vv_avx512(const i64* x, const i64* y, i64* out,
                                                std::size_t n, u64 q, u64 mu, unsigned k) {
    const __m512i vq = _mm512_set1_epi64(static_cast<long long>(q));
    const __m512i vmu = _mm512_set1_epi64(static_cast<long long>(mu));
    // Shift counts for the 128-bit shifts p >> (k-1) and m >> (k+1); k >= 32 here.
    const __m128i s1 = _mm_cvtsi32_si128(static_cast<int>(k - 1));
    const __m128i t1 = _mm_cvtsi32_si128(static_cast<int>(65 - k));
    const __m128i s2 = _mm_cvtsi32_si128(static_cast<int>(k + 1));
    const __m128i t2 = _mm_cvtsi32_si128(static_cast<int>(63 - k));
    __mmask8 bad = 0;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512i a = _mm512_loadu_si512(x + i), b = _mm512_loadu_si512(y + i);
        bad |= _mm512_cmpge_epu64_mask(a, vq) | _mm512_cmpge_epu64_mask(b, vq);
        __m512i p_hi, p_lo, m_hi, m_lo;
        mul_wide(a, b, p_hi, p_lo);
        __m512i q1 = _mm512_or_si512(_mm512_srl_epi64(p_lo, s1), _mm512_sll_epi64(p_hi, t1));
        mul_wide(q1, vmu, m_hi, m_lo);
        __m512i q3 = _mm512_or_si512(_mm512_srl_epi64(m_lo, s2), _mm512_sll_epi64(m_hi, t2));
        __m512i r = _mm512_sub_epi64(p_lo, _mm512_mullo_epi64(q3, vq));
        r = _mm512_min_epu64(r, _mm512_sub_epi64(r, vq));
        r = _mm512_min_epu64(r, _mm512_sub_epi64(r, vq));
        _mm512_storeu_si512(out + i, r);
    }
    bool tail_bad = mul_big_vv_scalar(x + i, y + i, out + i, n - i, q, mu, k);
    return bad != 0 || tail_bad;
}

HE_TARGET(HE_ISA_AVX512) bool mul_big_vs_avx512(const i64* x, u64 b, u64 w, i64* out,
                                                std::size_t n, u64 q) {
    const __m512i vq = _mm512_set1_epi64(static_cast<long long>(q));
    const __m512i vb = _mm512_set1_epi64(static_cast<long long>(b));
    const __m512i vw = _mm512_set1_epi64(static_cast<long long>(w));
    __mmask8 bad = 0;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512i a = _mm512_loadu_si512(x + i);
        bad |= _mm512_cmpge_epu64_mask(a, vq);
        __m512i qhat, unused;
        mul_wide(a, vw, qhat, unused);
        __m512i r = _mm512_sub_epi64(_mm512_mullo_epi64(a, vb), _mm512_mullo_epi64(qhat, vq));
        _mm512_storeu_si512(out + i, _mm512_min_epu64(r, _mm512_sub_epi64(r, vq)));
    }
    bool tail_bad = mul_big_vs_scalar(x + i, b, w, out + i, n - i, q);
    return bad != 0 || tail_bad;
}
#endif

bool mul_big_vv(const i64* x, const i64* y, i64* out, std::size_t n, u64 q, u64 mu, unsigned k) {
#if HE_X86
    if (best_isa() == Isa::avx512) return mul_big_vv_avx512(x, y, out, n, q, mu, k);
#endif
    return mul_big_vv_scalar(x, y, out, n, q, mu, k);
}

bool mul_big_vs(const i64* x, u64 b, i64* out, std::size_t n, u64 q) {
    u64 w = shoup_factor(b, q);
#if HE_X86
    if (best_isa() == Isa::avx512) return mul_big_vs_avx512(x, b, w, out, n, q);
#endif
    return mul_big_vs_scalar(x, b, w, out, n, q);
}

HE_INLINE bool sum_tile_body(const i64* shares, std::size_t n_shares, std::size_t stride,
                             i64* out, std::size_t n, u64 q) {
    u64 bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
        u64 a = static_cast<u64>(shares[i]);
        bad |= static_cast<u64>(a >= q);
        out[i] = static_cast<i64>(a);
    }
    for (std::size_t s = 1; s < n_shares; ++s) {
        const i64* src = shares + s * stride;
        for (std::size_t i = 0; i < n; ++i) {
            u64 a = static_cast<u64>(src[i]);
            bad |= static_cast<u64>(a >= q);
            u64 t = static_cast<u64>(out[i]) + a;
            out[i] = static_cast<i64>(std::min(t, t - q));
        }
    }
    return bad != 0;
}
HE_MULTIVERSION(bool, sum_tile, sum_tile_body,
                (const i64* shares, std::size_t n_shares, std::size_t stride, i64* out,
                 std::size_t n, u64 q),
                (shares, n_shares, stride, out, n, q))

// floor-mod for any int64: a >= 0 reduces directly; a < 0 uses a = -(~a) - 1, so
// a mod q = q - 1 - (~a mod q), with ~a in [0, 2^63).
void reduce_range(const i64* x, i64* out, std::size_t n, u64 q) {
    u64 m = static_cast<u64>((u128{1} << 64) / q);  // floor(2^64 / q) < 2^64 for q >= 2
    for (std::size_t i = 0; i < n; ++i) {
        i64 v = x[i];
        u64 a = v < 0 ? ~static_cast<u64>(v) : static_cast<u64>(v);
        u64 qhat = static_cast<u64>((static_cast<u128>(a) * m) >> 64);
        u64 r = a - qhat * q;
        r = std::min(r, r - q);
        out[i] = static_cast<i64>(v < 0 ? q - 1 - r : r);
    }
}

[[noreturn]] void throw_out_of_range(const char* op, const char* const* names,
                                     const i64* const* arrays, std::size_t count, std::size_t n,
                                     u64 q) {
    for (std::size_t j = 0; j < count; ++j) {
        for (std::size_t i = 0; i < n; ++i) {
            u64 a = static_cast<u64>(arrays[j][i]);
            if (a >= q) {
                throw std::invalid_argument(std::string(op) + ": " + names[j] + " has entry " +
                                            std::to_string(arrays[j][i]) + " at flat index " +
                                            std::to_string(i) + ", outside [0, q) for q = " +
                                            std::to_string(q));
            }
        }
    }
    throw std::invalid_argument(std::string(op) + ": an input entry is outside [0, q)");
}

void check_modulus(const char* op, u64 q) {
    if (q < 2 || q >= (u64{1} << 62))
        throw std::invalid_argument(std::string(op) + ": modulus q = " + std::to_string(q) +
                                    " is outside [2, 2^62)");
}

void check_scalar(const char* op, u64 y, u64 q) {
    if (y >= q)
        throw std::invalid_argument(std::string(op) + ": scalar " + std::to_string(y) +
                                    " is outside [0, q) for q = " + std::to_string(q));
}

// Runs body(begin, end) -> bad over [0, n) on a few threads; true when any chunk was bad.
template <class Body>
bool run_checked(std::size_t n, Body&& body) {
    std::atomic<bool> bad{false};
    parallel_for(n, kGrain, 64, [&](std::size_t b, std::size_t e) {
        if (body(b, e)) bad.store(true, std::memory_order_relaxed);
    });
    return bad.load();
}

}  // namespace

void mod_add(const i64* x, const i64* y, i64* out, std::size_t n, u64 q) {
    check_modulus("mod_add", q);
    if (run_checked(n, [&](std::size_t b, std::size_t e) {
            return add_vv(x + b, y + b, out + b, e - b, q);
        })) {
        const char* names[] = {"x", "y"};
        const i64* arrays[] = {x, y};
        throw_out_of_range("mod_add", names, arrays, 2, n, q);
    }
}

void mod_add_scalar(const i64* x, u64 y, i64* out, std::size_t n, u64 q) {
    check_modulus("mod_add", q);
    check_scalar("mod_add", y, q);
    if (run_checked(n, [&](std::size_t b, std::size_t e) {
            return add_vs(x + b, y, out + b, e - b, q);
        })) {
        const char* names[] = {"x"};
        const i64* arrays[] = {x};
        throw_out_of_range("mod_add", names, arrays, 1, n, q);
    }
}

void mod_sub(const i64* x, const i64* y, i64* out, std::size_t n, u64 q) {
    check_modulus("mod_sub", q);
    if (run_checked(n, [&](std::size_t b, std::size_t e) {
            return sub_vv(x + b, y + b, out + b, e - b, q);
        })) {
        const char* names[] = {"x", "y"};
        const i64* arrays[] = {x, y};
        throw_out_of_range("mod_sub", names, arrays, 2, n, q);
    }
}

void mod_sub_scalar(const i64* x, u64 y, i64* out, std::size_t n, u64 q) {
    check_modulus("mod_sub", q);
    check_scalar("mod_sub", y, q);
    if (run_checked(n, [&](std::size_t b, std::size_t e) {
            return sub_vs(x + b, y, out + b, e - b, q);
        })) {
        const char* names[] = {"x"};
        const i64* arrays[] = {x};
        throw_out_of_range("mod_sub", names, arrays, 1, n, q);
    }
}

void mod_neg(const i64* x, i64* out, std::size_t n, u64 q) {
    check_modulus("mod_neg", q);
    if (run_checked(n, [&](std::size_t b, std::size_t e) {
            return neg(x + b, out + b, e - b, q);
        })) {
        const char* names[] = {"x"};
        const i64* arrays[] = {x};
        throw_out_of_range("mod_neg", names, arrays, 1, n, q);
    }
}

void mod_mul(const i64* x, const i64* y, i64* out, std::size_t n, u64 q) {
    check_modulus("mod_mul", q);
    Barrett br(q);
    bool small = q < kSmallModulusBound;
    if (run_checked(n, [&](std::size_t b, std::size_t e) {
            return small ? mul_small_vv(x + b, y + b, out + b, e - b, q, br.mu, br.k)
                         : mul_big_vv(x + b, y + b, out + b, e - b, q, br.mu, br.k);
        })) {
        const char* names[] = {"x", "y"};
        const i64* arrays[] = {x, y};
        throw_out_of_range("mod_mul", names, arrays, 2, n, q);
    }
}

void mod_mul_scalar(const i64* x, u64 y, i64* out, std::size_t n, u64 q) {
    check_modulus("mod_mul", q);
    check_scalar("mod_mul", y, q);
    Barrett br(q);
    bool small = q < kSmallModulusBound;
    if (run_checked(n, [&](std::size_t b, std::size_t e) {
            return small ? mul_small_vs(x + b, y, out + b, e - b, q, br.mu, br.k)
                         : mul_big_vs(x + b, y, out + b, e - b, q);
        })) {
        const char* names[] = {"x"};
        const i64* arrays[] = {x};
        throw_out_of_range("mod_mul", names, arrays, 1, n, q);
    }
}

void mod_sum(const i64* shares, std::size_t n_shares, i64* out, std::size_t n, u64 q) {
    check_modulus("mod_sum", q);
    if (n_shares == 0) {
        std::fill(out, out + n, i64{0});
        return;
    }
    bool bad = run_checked(n, [&](std::size_t b, std::size_t e) {
        bool any = false;
        for (std::size_t t = b; t < e; t += kSumTile) {
            std::size_t len = std::min(kSumTile, e - t);
            any |= sum_tile(shares + t, n_shares, n, out + t, len, q);
        }
        return any;
    });
    if (bad) {
        for (std::size_t s = 0; s < n_shares; ++s) {
            std::string name = "shares[" + std::to_string(s) + "]";
            const char* names[] = {name.c_str()};
            const i64* arrays[] = {shares + s * n};
            for (std::size_t i = 0; i < n; ++i)
                if (static_cast<u64>(arrays[0][i]) >= q)
                    throw_out_of_range("mod_sum", names, arrays, 1, n, q);
        }
        throw std::invalid_argument("mod_sum: an input entry is outside [0, q)");
    }
}

void mod_reduce(const i64* x, i64* out, std::size_t n, u64 q) {
    check_modulus("mod_reduce", q);
    parallel_for(n, kGrain, 64, [&](std::size_t b, std::size_t e) {
        reduce_range(x + b, out + b, e - b, q);
    });
}

}  // namespace he_native
