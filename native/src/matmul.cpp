// Matrix products over Z_2^64 (int64 with wrap-around), for ring_matmul and the fused
// Beaver recombination c + e@b + a@f (+ e@f).
//
// Layout follows the BLIS/GotoBLAS scheme (Van Zee and van de Geijn, "BLIS: A Framework
// for Rapidly Instantiating BLAS Functionality", ACM TOMS 2015): B is packed once into
// panels kNr columns wide, and a kMr x kNr register-tile micro-kernel walks a kKc-long
// slice of the shared dimension. On AVX-512 the micro-kernel uses vpmullq (64-bit low
// multiply); elsewhere it is a plain scalar loop. Rows of C are split over
// threads; every thread reads the same packed B.
#include <algorithm>
#include <cstring>
#include <vector>

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

constexpr std::size_t kMr = 8;    // rows of the register tile
constexpr std::size_t kNr = 16;   // columns of the register tile: two 512-bit vectors
constexpr std::size_t kKc = 256;  // shared-dimension slice: a packed B slice is 32 KiB
constexpr std::size_t kMc = 64;   // rows per block: an A block is 128 KiB, L2-resident
// Multiply-adds per thread below which one thread is faster than two.
constexpr std::size_t kParallelWork = std::size_t{1} << 20;

// packed[(panel * k + p) * kNr + j] = b[p, panel*kNr + j] (+ b2[p, ...]), zero-padded.
void pack_b(const i64* b, const i64* b2, std::size_t k, std::size_t n, u64* packed) {
    std::size_t panels = (n + kNr - 1) / kNr;
    for (std::size_t jp = 0; jp < panels; ++jp) {
        std::size_t j0 = jp * kNr, nr = std::min(kNr, n - j0);
        u64* dst = packed + jp * k * kNr;
        for (std::size_t p = 0; p < k; ++p) {
            const i64* row = b + p * n + j0;
            const i64* row2 = b2 ? b2 + p * n + j0 : nullptr;
            for (std::size_t j = 0; j < nr; ++j)
                dst[p * kNr + j] = static_cast<u64>(row[j]) + (row2 ? static_cast<u64>(row2[j]) : 0);
            for (std::size_t j = nr; j < kNr; ++j) dst[p * kNr + j] = 0;
        }
    }
}

HE_INLINE void micro_generic_body(const u64* a, std::size_t lda, const u64* bp, std::size_t kc,
                                  u64* tile) {
    u64 acc[kMr][kNr] = {};
    for (std::size_t p = 0; p < kc; ++p) {
        const u64* brow = bp + p * kNr;
        for (std::size_t r = 0; r < kMr; ++r) {
            u64 av = a[r * lda + p];
            for (std::size_t j = 0; j < kNr; ++j) acc[r][j] += av * brow[j];
        }
    }
    std::memcpy(tile, acc, sizeof(acc));
}

#if HE_X86
HE_TARGET(HE_ISA_AVX512) void micro_avx512(const u64* a, std::size_t lda, const u64* bp,
                                           std::size_t kc, u64* tile) {
    __m512i acc[kMr][2];
#pragma GCC unroll 8
    for (std::size_t r = 0; r < kMr; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    for (std::size_t p = 0; p < kc; ++p) {
        __m512i b0 = _mm512_loadu_si512(bp + p * kNr);
        __m512i b1 = _mm512_loadu_si512(bp + p * kNr + 8);
#pragma GCC unroll 8
        for (std::size_t r = 0; r < kMr; ++r) {
            __m512i av = _mm512_set1_epi64(static_cast<long long>(a[r * lda + p]));
            acc[r][0] = _mm512_add_epi64(acc[r][0], _mm512_mullo_epi64(av, b0));
            acc[r][1] = _mm512_add_epi64(acc[r][1], _mm512_mullo_epi64(av, b1));
        }
    }
#pragma GCC unroll 8
    for (std::size_t r = 0; r < kMr; ++r) {
        _mm512_storeu_si512(tile + r * kNr, acc[r][0]);
        _mm512_storeu_si512(tile + r * kNr + 8, acc[r][1]);
    }
}
#endif

void micro_generic(const u64* a, std::size_t lda, const u64* bp, std::size_t kc, u64* tile) {
    micro_generic_body(a, lda, bp, kc, tile);
}

using MicroKernel = void (*)(const u64*, std::size_t, const u64*, std::size_t, u64*);

MicroKernel pick_micro_kernel() {
#if HE_X86
    switch (best_isa()) {
        case Isa::avx512: return micro_avx512;
        // AVX2 has no 64-bit multiply; emulating it costs more than scalar imul here
        // (measured: 2.5x slower on 256^3), so AVX2 machines use the generic kernel.
        default: break;
    }
#endif
    return micro_generic;
}

// C[rows r0..r1) += A[rows r0..r1) @ B, with B already packed; A is (m, k) row-major.
void gemm_rows(MicroKernel micro, const i64* a_signed, const u64* packed, u64* c, std::size_t r0,
               std::size_t r1, std::size_t k, std::size_t n) {
    const u64* a = reinterpret_cast<const u64*>(a_signed);
    std::size_t panels = (n + kNr - 1) / kNr;
    alignas(64) u64 tile[kMr * kNr];
    std::vector<u64> a_edge;  // zero-padded copy for a last block of fewer than kMr rows
    for (std::size_t pc = 0; pc < k; pc += kKc) {
        std::size_t kc = std::min(kKc, k - pc);
        for (std::size_t ic = r0; ic < r1; ic += kMc) {
            std::size_t ic_end = std::min(r1, ic + kMc);
            for (std::size_t jp = 0; jp < panels; ++jp) {
                std::size_t j0 = jp * kNr, nr = std::min(kNr, n - j0);
                const u64* bp = packed + (jp * k + pc) * kNr;
                for (std::size_t ir = ic; ir < ic_end; ir += kMr) {
                    std::size_t mr = std::min(kMr, ic_end - ir);
                    if (mr == kMr) {
                        micro(a + ir * k + pc, k, bp, kc, tile);
                    } else {
                        a_edge.assign(kMr * kc, 0);
                        for (std::size_t r = 0; r < mr; ++r)
                            std::memcpy(&a_edge[r * kc], a + (ir + r) * k + pc, kc * sizeof(u64));
                        micro(a_edge.data(), kc, bp, kc, tile);
                    }
                    for (std::size_t r = 0; r < mr; ++r) {
                        u64* crow = c + (ir + r) * n + j0;
                        const u64* trow = tile + r * kNr;
                        for (std::size_t j = 0; j < nr; ++j) crow[j] += trow[j];
                    }
                }
            }
        }
    }
}

struct Product {
    const i64* a;      // (m, k)
    const u64* packed;  // packed (k, n)
};

// out = init (or 0) + sum of products, splitting rows of out over threads.
void gemm_sum(const Product* products, std::size_t count, const i64* init, i64* out,
              std::size_t m, std::size_t k, std::size_t n) {
    u64* c = reinterpret_cast<u64*>(out);
    MicroKernel micro = pick_micro_kernel();
    std::size_t work_per_row = std::max<std::size_t>(1, k * n * count);
    std::size_t grain_rows = std::max(kMr, kParallelWork / work_per_row);
    parallel_for(m, grain_rows, kMr, [&](std::size_t r0, std::size_t r1) {
        if (init)
            std::memcpy(c + r0 * n, init + r0 * n, (r1 - r0) * n * sizeof(u64));
        else
            std::memset(c + r0 * n, 0, (r1 - r0) * n * sizeof(u64));
        for (std::size_t i = 0; i < count; ++i)
            gemm_rows(micro, products[i].a, products[i].packed, c, r0, r1, k, n);
    });
}

std::size_t packed_size(std::size_t k, std::size_t n) { return (n + kNr - 1) / kNr * kNr * k; }

}  // namespace

void ring_matmul(const i64* a, const i64* b, i64* c, std::size_t m, std::size_t k, std::size_t n) {
    std::vector<u64> packed(packed_size(k, n));
    pack_b(b, nullptr, k, n, packed.data());
    Product prod{a, packed.data()};
    gemm_sum(&prod, 1, nullptr, c, m, k, n);
}

void beaver_matmul(const i64* a, const i64* b, const i64* c, const i64* e, const i64* f, i64* out,
                   std::size_t m, std::size_t k, std::size_t n, bool include_ef) {
    // c + e@b + a@f + e@f == c + e@(b + f) + a@f, and b + f is formed while packing.
    std::vector<u64> packed_b(packed_size(k, n)), packed_f(packed_size(k, n));
    pack_b(b, include_ef ? f : nullptr, k, n, packed_b.data());
    pack_b(f, nullptr, k, n, packed_f.data());
    Product prods[2] = {{e, packed_b.data()}, {a, packed_f.data()}};
    gemm_sum(prods, 2, c, out, m, k, n);
}

}  // namespace he_native
