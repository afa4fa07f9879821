// Addition, subtraction, negation, share sums and reduction in Z_q for 2 <= q < 2^62, on
// int64 buffers whose entries must lie in [0, q). Multiplication lives in modmul.cpp.
//
// Range checks are fused into the arithmetic loops (an OR-reduction of `entry >= q` taken
// as unsigned, which also catches negatives), so validating costs no extra pass; only when
// a loop reports a bad entry do we rescan to name it in the error message.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "he_native/kernels.hpp"
#include "he_native/modular_detail.hpp"
#include "he_native/platform.hpp"

namespace he_native {

using u64 = std::uint64_t;
using i64 = std::int64_t;

namespace detail {

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

}  // namespace detail

namespace {

using u128 = unsigned __int128;
using detail::run_checked;
using detail::checked_elementwise;
using detail::throw_out_of_range;

// Elements per cache tile in mod_sum (32 KiB of int64 output, about one L1 data cache).
constexpr std::size_t kSumTile = 4096;

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

}  // namespace

using detail::check_modulus;
using detail::check_scalar;

void mod_add(const i64* x, const i64* y, i64* out, std::size_t n, u64 q) {
    check_modulus("mod_add", q);
    checked_elementwise("mod_add", x, y, n, q, [&](std::size_t b, std::size_t e) {
        return add_vv(x + b, y + b, out + b, e - b, q);
    });
}

void mod_add_scalar(const i64* x, u64 y, i64* out, std::size_t n, u64 q) {
    check_modulus("mod_add", q);
    check_scalar("mod_add", y, q);
    checked_elementwise("mod_add", x, nullptr, n, q, [&](std::size_t b, std::size_t e) {
        return add_vs(x + b, y, out + b, e - b, q);
    });
}

void mod_sub(const i64* x, const i64* y, i64* out, std::size_t n, u64 q) {
    check_modulus("mod_sub", q);
    checked_elementwise("mod_sub", x, y, n, q, [&](std::size_t b, std::size_t e) {
        return sub_vv(x + b, y + b, out + b, e - b, q);
    });
}

void mod_sub_scalar(const i64* x, u64 y, i64* out, std::size_t n, u64 q) {
    check_modulus("mod_sub", q);
    check_scalar("mod_sub", y, q);
    checked_elementwise("mod_sub", x, nullptr, n, q, [&](std::size_t b, std::size_t e) {
        return sub_vs(x + b, y, out + b, e - b, q);
    });
}

void mod_neg(const i64* x, i64* out, std::size_t n, u64 q) {
    check_modulus("mod_neg", q);
    checked_elementwise("mod_neg", x, nullptr, n, q, [&](std::size_t b, std::size_t e) {
        return neg(x + b, out + b, e - b, q);
    });
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
    parallel_for(n, detail::kModGrain, 64, [&](std::size_t b, std::size_t e) {
        reduce_range(x + b, out + b, e - b, q);
    });
}

}  // namespace he_native
