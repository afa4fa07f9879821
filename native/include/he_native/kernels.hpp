// Declarations of the he_learn native kernels.
//
// Every kernel is a pure function over raw, C-contiguous buffers: it holds no state,
// never prints, and reports bad input by throwing std::invalid_argument. The pybind11
// layer (bindings.cpp) owns array allocation and releases the GIL around these calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace he_native {

// ---- Z_q arithmetic, 2 <= q < 2^62; operands must lie in [0, q) (checked in the loop) ----
void mod_add(const std::int64_t* x, const std::int64_t* y, std::int64_t* out, std::size_t n,
             std::uint64_t q);
void mod_add_scalar(const std::int64_t* x, std::uint64_t y, std::int64_t* out, std::size_t n,
                    std::uint64_t q);
void mod_sub(const std::int64_t* x, const std::int64_t* y, std::int64_t* out, std::size_t n,
             std::uint64_t q);
void mod_sub_scalar(const std::int64_t* x, std::uint64_t y, std::int64_t* out, std::size_t n,
                    std::uint64_t q);
void mod_mul(const std::int64_t* x, const std::int64_t* y, std::int64_t* out, std::size_t n,
             std::uint64_t q);
void mod_mul_scalar(const std::int64_t* x, std::uint64_t y, std::int64_t* out, std::size_t n,
                    std::uint64_t q);
void mod_neg(const std::int64_t* x, std::int64_t* out, std::size_t n, std::uint64_t q);
// shares: n_shares consecutive blocks of n elements each.
void mod_sum(const std::int64_t* shares, std::size_t n_shares, std::int64_t* out, std::size_t n,
             std::uint64_t q);
// Any int64 -> floor-mod q (never fails).
void mod_reduce(const std::int64_t* x, std::int64_t* out, std::size_t n, std::uint64_t q);

// ---- Z_2^64 (two's-complement wrap-around) ----
// c (m,n) = a (m,k) @ b (k,n), row-major.
void ring_matmul(const std::int64_t* a, const std::int64_t* b, std::int64_t* c, std::size_t m,
                 std::size_t k, std::size_t n);
// out = c + e*b + a*f (+ e*f), elementwise.
void beaver_mul(const std::int64_t* a, const std::int64_t* b, const std::int64_t* c,
                const std::int64_t* e, const std::int64_t* f, std::int64_t* out, std::size_t n,
                bool include_ef);
// out (m,n) = c + e@b + a@f (+ e@f); a,e (m,k); b,f (k,n).
void beaver_matmul(const std::int64_t* a, const std::int64_t* b, const std::int64_t* c,
                   const std::int64_t* e, const std::int64_t* f, std::int64_t* out, std::size_t m,
                   std::size_t k, std::size_t n, bool include_ef);
void ring_shift_right(const std::int64_t* x, std::int64_t* out, std::size_t n, unsigned bits);
void trunc_share(const std::int64_t* c, const std::int64_t* r_trunc, const std::int64_t* r_msb,
                 std::int64_t* out, std::size_t n, unsigned bits, bool lead);

// ---- AES-128 in counter mode (big-endian 128-bit counter, as OpenSSL/cryptography) ----
// key and counter are exactly 16 bytes. Writes n_bytes of keystream.
void aes_ctr_bytes(const std::uint8_t* key, const std::uint8_t* counter, std::uint8_t* out,
                   std::size_t n_bytes);
void aes_ctr_bytes_portable(const std::uint8_t* key, const std::uint8_t* counter,
                            std::uint8_t* out, std::size_t n_bytes);
// n uniform values in [0, q) by Lemire's multiply-and-reject; returns 64-bit words consumed.
std::size_t aes_ctr_mod(const std::uint8_t* key, const std::uint8_t* counter, std::int64_t* out,
                        std::size_t n, std::uint64_t q);

// ---- CPU features, detected at run time ----
struct CpuFeatures {
    bool aesni;
    bool avx2;
    bool avx512;  // avx512f + avx512dq (64-bit multiply)
    bool vaes;    // VAES on 512-bit registers (also needs avx512f)
};
CpuFeatures cpu_features();

}  // namespace he_native
