// AES-128 in counter mode (FIPS 197; NIST SP 800-38A section 6.5), producing the keystream
// that OpenSSL (and so the `cryptography` package) XORs into plaintext: block i encrypts
// the 128-bit big-endian counter (initial + i) mod 2^128.
//
// Three paths give bit-identical output: VAES on 512-bit registers (16 blocks per loop),
// AES-NI (8 independent blocks in flight to cover the aesenc latency), and a portable
// table-driven implementation. The portable path's lookups depend on secret bytes, so
// unlike AES-NI it is not constant-time; it exists for CPUs without AES instructions.
#include <array>
#include <cstring>
#include <stdexcept>

#include "he_native/kernels.hpp"
#include "he_native/platform.hpp"

#if HE_X86
#include <immintrin.h>
#endif

namespace he_native {
namespace {

using u8 = std::uint8_t;
using u64 = std::uint64_t;

constexpr std::size_t kBlock = 16;
constexpr int kRounds = 10;  // AES-128
using RoundKeys = std::array<u8, kBlock * (kRounds + 1)>;

constexpr u8 xtime(u8 v) { return static_cast<u8>((v << 1) ^ ((v & 0x80) ? 0x1b : 0x00)); }

constexpr u8 gf_mul(u8 a, u8 b) {
    u8 r = 0;
    while (b) {
        if (b & 1) r ^= a;
        a = xtime(a);
        b >>= 1;
    }
    return r;
}

// The S-box from its definition (FIPS 197 section 5.1.1): multiplicative inverse in
// GF(2^8) followed by the affine map; computed at compile time rather than transcribed.
constexpr std::array<u8, 256> make_sbox() {
    std::array<u8, 256> box{};
    for (int x = 0; x < 256; ++x) {
        u8 inv = 0;
        for (int y = 1; y < 256 && x != 0; ++y)
            if (gf_mul(static_cast<u8>(x), static_cast<u8>(y)) == 1) inv = static_cast<u8>(y);
        u8 s = inv;
        u8 r = inv;
        for (int i = 0; i < 4; ++i) {
            r = static_cast<u8>((r << 1) | (r >> 7));
            s ^= r;
        }
        box[x] = static_cast<u8>(s ^ 0x63);
    }
    return box;
}
constexpr std::array<u8, 256> kSbox = make_sbox();
static_assert(kSbox[0x00] == 0x63 && kSbox[0x53] == 0xed, "S-box construction");

RoundKeys expand_key(const u8* key) {
    RoundKeys rk{};
    std::memcpy(rk.data(), key, kBlock);
    u8 rcon = 1;
    for (std::size_t i = 4; i < 4 * (kRounds + 1); ++i) {
        u8 t[4];
        std::memcpy(t, &rk[(i - 1) * 4], 4);
        if (i % 4 == 0) {
            u8 first = t[0];
            t[0] = static_cast<u8>(kSbox[t[1]] ^ rcon);
            t[1] = kSbox[t[2]];
            t[2] = kSbox[t[3]];
            t[3] = kSbox[first];
            rcon = xtime(rcon);
        }
        for (int j = 0; j < 4; ++j) rk[i * 4 + j] = static_cast<u8>(rk[(i - 4) * 4 + j] ^ t[j]);
    }
    return rk;
}

// The portable cipher uses the four 1 KiB "T-tables" of the Rijndael reference code
// (Daemen and Rijmen, The Design of Rijndael, section 4.2): each entry folds SubBytes and
// one MixColumns column, so a round is 16 lookups and XORs on column words.
using Table = std::array<std::uint32_t, 256>;

constexpr std::uint32_t rotr8(std::uint32_t v) { return (v >> 8) | (v << 24); }

constexpr std::array<Table, 4> make_tables() {
    std::array<Table, 4> t{};
    for (int x = 0; x < 256; ++x) {
        u8 s = kSbox[x];
        u8 s2 = xtime(s);
        u8 s3 = static_cast<u8>(s2 ^ s);
        // Column word, row 0 in the top byte: (2s, s, s, 3s).
        std::uint32_t w = (std::uint32_t{s2} << 24) | (std::uint32_t{s} << 16) |
                          (std::uint32_t{s} << 8) | s3;
        for (int i = 0; i < 4; ++i, w = rotr8(w)) t[i][x] = w;
    }
    return t;
}
constexpr std::array<Table, 4> kTe = make_tables();

std::uint32_t load_be32(const u8* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
           (std::uint32_t{p[2]} << 8) | p[3];
}

void store_be32(std::uint32_t v, u8* p) {
    p[0] = static_cast<u8>(v >> 24);
    p[1] = static_cast<u8>(v >> 16);
    p[2] = static_cast<u8>(v >> 8);
    p[3] = static_cast<u8>(v);
}

using RoundKeyWords = std::array<std::uint32_t, 4 * (kRounds + 1)>;

RoundKeyWords key_words(const RoundKeys& rk) {
    RoundKeyWords w{};
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = load_be32(&rk[4 * i]);
    return w;
}

void encrypt_block_portable(const RoundKeyWords& rk, const u8* in, u8* out) {
    std::uint32_t s[4], t[4];
    for (int c = 0; c < 4; ++c) s[c] = load_be32(in + 4 * c) ^ rk[c];
    for (int round = 1; round < kRounds; ++round) {
        // ShiftRows: row r of output column c comes from input column c + r.
        for (int c = 0; c < 4; ++c)
            t[c] = kTe[0][s[c] >> 24] ^ kTe[1][(s[(c + 1) % 4] >> 16) & 0xff] ^
                   kTe[2][(s[(c + 2) % 4] >> 8) & 0xff] ^ kTe[3][s[(c + 3) % 4] & 0xff] ^
                   rk[4 * round + c];
        for (int c = 0; c < 4; ++c) s[c] = t[c];
    }
    for (int c = 0; c < 4; ++c) {  // last round: no MixColumns
        std::uint32_t w = (std::uint32_t{kSbox[s[c] >> 24]} << 24) |
                          (std::uint32_t{kSbox[(s[(c + 1) % 4] >> 16) & 0xff]} << 16) |
                          (std::uint32_t{kSbox[(s[(c + 2) % 4] >> 8) & 0xff]} << 8) |
                          kSbox[s[(c + 3) % 4] & 0xff];
        store_be32(w ^ rk[4 * kRounds + c], out + 4 * c);
    }
}

struct Counter {
    u64 hi, lo;  // the 128-bit big-endian counter as two native integers
};

Counter load_counter(const u8* bytes) {
    Counter c{0, 0};
    for (int i = 0; i < 8; ++i) c.hi = (c.hi << 8) | bytes[i];
    for (int i = 8; i < 16; ++i) c.lo = (c.lo << 8) | bytes[i];
    return c;
}

Counter advance(Counter c, u64 blocks) {
    u64 lo = c.lo + blocks;
    return Counter{c.hi + (lo < c.lo ? 1 : 0), lo};
}

void store_counter(Counter c, u8* bytes) {
    for (int i = 7; i >= 0; --i, c.hi >>= 8) bytes[i] = static_cast<u8>(c.hi);
    for (int i = 15; i >= 8; --i, c.lo >>= 8) bytes[i] = static_cast<u8>(c.lo);
}

void keystream_portable(const RoundKeys& rk_bytes, Counter ctr, std::size_t blocks, u8* out) {
    const RoundKeyWords rk = key_words(rk_bytes);
    u8 block[kBlock];
    for (std::size_t b = 0; b < blocks; ++b) {
        store_counter(advance(ctr, b), block);
        encrypt_block_portable(rk, block, out + b * kBlock);
    }
}

#if HE_X86
constexpr std::size_t kAesNiLanes = 8;

HE_TARGET("aes,sse4.1,ssse3") HE_INLINE __m128i encrypt_aesni(__m128i block,
                                                              const __m128i* keys) {
    block = _mm_xor_si128(block, keys[0]);
    for (int r = 1; r < kRounds; ++r) block = _mm_aesenc_si128(block, keys[r]);
    return _mm_aesenclast_si128(block, keys[kRounds]);
}

HE_TARGET("aes,sse4.1,ssse3") void keystream_aesni(const RoundKeys& rk, Counter ctr,
                                                   std::size_t blocks, u8* out) {
    __m128i keys[kRounds + 1];
    for (int r = 0; r <= kRounds; ++r)
        keys[r] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rk.data() + r * kBlock));
    std::size_t b = 0;
    if (ctr.lo <= ~u64{0} - blocks) {
        // No carry into the high word within this call: keep the counter as native
        // (hi, lo) qwords, add in a vector register, and byte-swap each qword to get
        // the big-endian block with one pshufb.
        const __m128i bswap = _mm_set_epi8(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
        const __m128i one = _mm_set_epi64x(1, 0);
        __m128i c = _mm_set_epi64x(static_cast<long long>(ctr.lo), static_cast<long long>(ctr.hi));
        for (; b + kAesNiLanes <= blocks; b += kAesNiLanes) {
            __m128i x[kAesNiLanes];
            for (std::size_t j = 0; j < kAesNiLanes; ++j) {
                x[j] = _mm_xor_si128(_mm_shuffle_epi8(c, bswap), keys[0]);
                c = _mm_add_epi64(c, one);
            }
            for (int r = 1; r < kRounds; ++r)
                for (std::size_t j = 0; j < kAesNiLanes; ++j)
                    x[j] = _mm_aesenc_si128(x[j], keys[r]);
            for (std::size_t j = 0; j < kAesNiLanes; ++j)
                _mm_storeu_si128(reinterpret_cast<__m128i*>(out + (b + j) * kBlock),
                                 _mm_aesenclast_si128(x[j], keys[kRounds]));
        }
    }
    // The rest, and calls whose counter carries into the high word: one block at a time.
    for (; b < blocks; ++b) {
        u8 ctr_bytes[kBlock];
        store_counter(advance(ctr, b), ctr_bytes);
        __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ctr_bytes));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + b * kBlock), encrypt_aesni(block, keys));
    }
}

constexpr std::size_t kVaesVectors = 4;                 // zmm registers in flight
constexpr std::size_t kVaesBlocks = 4 * kVaesVectors;  // 16 blocks per loop

// Returns the number of blocks written (a multiple of kVaesBlocks); the caller finishes
// with AES-NI. Counters are kept as native (hi, lo) qword pairs and byte-swapped into
// big-endian blocks with one shuffle; only used when lo cannot carry within the call.
HE_TARGET("vaes,avx512f,avx512bw,aes") std::size_t keystream_vaes(const RoundKeys& rk,
                                                                  Counter ctr, std::size_t blocks,
                                                                  u8* out) {
    std::size_t full = blocks / kVaesBlocks * kVaesBlocks;
    if (full == 0 || ctr.lo > ~u64{0} - blocks) return 0;
    __m512i keys[kRounds + 1];
    for (int r = 0; r <= kRounds; ++r)
        keys[r] = _mm512_broadcast_i32x4(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(rk.data() + r * kBlock)));
    alignas(64) u8 swap_bytes[64];
    for (int i = 0; i < 64; ++i) swap_bytes[i] = static_cast<u8>((i & 8) | (7 - (i & 7)));
    const __m512i bswap = _mm512_load_si512(swap_bytes);
    const long long hi = static_cast<long long>(ctr.hi);
    const long long lo = static_cast<long long>(ctr.lo);
    __m512i base = _mm512_set_epi64(lo + 3, hi, lo + 2, hi, lo + 1, hi, lo, hi);
    const __m512i step4 = _mm512_set_epi64(4, 0, 4, 0, 4, 0, 4, 0);
    for (std::size_t b = 0; b < full; b += kVaesBlocks) {
        __m512i x[kVaesVectors];
        __m512i c = base;
        for (std::size_t v = 0; v < kVaesVectors; ++v) {
            x[v] = _mm512_xor_si512(_mm512_shuffle_epi8(c, bswap), keys[0]);
            c = _mm512_add_epi64(c, step4);
        }
        base = c;
        for (int r = 1; r < kRounds; ++r)
            for (std::size_t v = 0; v < kVaesVectors; ++v)
                x[v] = _mm512_aesenc_epi128(x[v], keys[r]);
        for (std::size_t v = 0; v < kVaesVectors; ++v)
            _mm512_storeu_si512(out + (b + 4 * v) * kBlock,
                                _mm512_aesenclast_epi128(x[v], keys[kRounds]));
    }
    return full;
}
#endif

void keystream_blocks(const RoundKeys& rk, Counter ctr, std::size_t blocks, u8* out) {
#if HE_X86
    CpuFeatures f = cpu_features();
    Isa cap = isa_cap();
    if (f.aesni && cap != Isa::generic) {
        bool vaes = f.vaes && cap == Isa::avx512;
        std::size_t done = vaes ? keystream_vaes(rk, ctr, blocks, out) : 0;
        keystream_aesni(rk, advance(ctr, done), blocks - done, out + done * kBlock);
        return;
    }
#endif
    keystream_portable(rk, ctr, blocks, out);
}

using BlockFn = void (*)(const RoundKeys&, Counter, std::size_t, u8*);

void ctr_bytes_with(BlockFn fn, const u8* key, const u8* counter, u8* out, std::size_t n_bytes) {
    RoundKeys rk = expand_key(key);
    Counter ctr = load_counter(counter);
    std::size_t full = n_bytes / kBlock;
    fn(rk, ctr, full, out);
    std::size_t tail = n_bytes - full * kBlock;
    if (tail) {
        u8 last[kBlock];
        fn(rk, advance(ctr, full), 1, last);
        std::memcpy(out + full * kBlock, last, tail);
    }
}

// Keystream words consumed per refill in aes_ctr_mod: 16 KiB stays in L1.
constexpr std::size_t kModChunkBlocks = 1024;

}  // namespace

void aes_ctr_bytes(const u8* key, const u8* counter, u8* out, std::size_t n_bytes) {
    ctr_bytes_with(keystream_blocks, key, counter, out, n_bytes);
}

void aes_ctr_bytes_portable(const u8* key, const u8* counter, u8* out, std::size_t n_bytes) {
    ctr_bytes_with(keystream_portable, key, counter, out, n_bytes);
}

// Lemire, "Fast Random Integer Generation in an Interval", ACM TOMACS 2019: for a
// uniform 64-bit word w, m = w*q; reject when low64(m) < (2^64 - q) mod q, otherwise
// high64(m) is uniform in [0, q). The rejection probability is below q / 2^64 < 1/4.
std::size_t aes_ctr_mod(const u8* key, const u8* counter, std::int64_t* out, std::size_t n,
                        u64 q) {
    if (q < 2 || q >= (u64{1} << 62))
        throw std::invalid_argument("aes_ctr_mod: modulus q = " + std::to_string(q) +
                                    " is outside [2, 2^62)");
    RoundKeys rk = expand_key(key);
    Counter ctr = load_counter(counter);
    const u64 threshold = (u64{0} - q) % q;
    std::array<u64, kModChunkBlocks * kBlock / 8> words;
    std::size_t produced = 0, used = 0, block = 0;
    while (produced < n) {
        keystream_blocks(rk, advance(ctr, block), kModChunkBlocks,
                         reinterpret_cast<u8*>(words.data()));
        block += kModChunkBlocks;
        for (std::size_t i = 0; i < words.size() && produced < n; ++i) {
            unsigned __int128 m = static_cast<unsigned __int128>(words[i]) * q;
            ++used;
            if (static_cast<u64>(m) < threshold) continue;
            out[produced++] = static_cast<std::int64_t>(static_cast<u64>(m >> 64));
        }
    }
    return used;
}

}  // namespace he_native
