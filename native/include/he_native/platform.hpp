// Compiler and CPU plumbing shared by the kernel files: function-level target attributes,
// so that one binary carries a portable path and vector paths chosen at run time.
#pragma once

#include <cstdint>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define HE_X86 1
#define HE_TARGET(isa) __attribute__((target(isa)))
#else
#define HE_X86 0
#define HE_TARGET(isa)
#endif

#if defined(__GNUC__) || defined(__clang__)
#define HE_INLINE inline __attribute__((always_inline))
#define HE_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define HE_INLINE inline
#define HE_UNLIKELY(x) (x)
#endif

#define HE_ISA_AVX512 "avx512f,avx512dq,avx512vl,avx512bw,avx2,bmi2,popcnt"
#define HE_ISA_AVX2 "avx2,bmi2,popcnt"

namespace he_native {

// Which vector path a multiversioned kernel should take on this CPU.
enum class Isa { generic, avx2, avx512 };
// The widest ISA the CPU supports, capped by the environment variable below.
Isa best_isa();
// The cap alone (Isa::avx512 when unset): AES uses it to pick VAES, AES-NI or portable.
Isa isa_cap();
constexpr const char* kIsaCapVariable = "HE_LEARN_NATIVE_ISA";

}  // namespace he_native

// Define three copies of a kernel body (an always-inline function `body_fn`) compiled for
// AVX-512, AVX2 and the baseline ISA, and a dispatcher `name` that picks one at run time.
// GCC and Clang inline a baseline-ISA function into a caller with a wider target, so the
// body is vectorised separately for each ISA.
#if HE_X86
#define HE_MULTIVERSION(ret, name, body_fn, params, args)                 \
    HE_TARGET(HE_ISA_AVX512) static ret name##_avx512 params { return body_fn args; } \
    HE_TARGET(HE_ISA_AVX2) static ret name##_avx2 params { return body_fn args; }     \
    static ret name##_generic params { return body_fn args; }                          \
    static ret name params {                                                           \
        switch (::he_native::best_isa()) {                                             \
            case ::he_native::Isa::avx512: return name##_avx512 args;                  \
            case ::he_native::Isa::avx2: return name##_avx2 args;                      \
            default: return name##_generic args;                                       \
        }                                                                              \
    }
#else
#define HE_MULTIVERSION(ret, name, body_fn, params, args) \
    static ret name params { return body_fn args; }
#endif
