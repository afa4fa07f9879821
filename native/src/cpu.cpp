// Run-time CPU feature detection. The binary is built for the baseline ISA; vector paths
// are compiled with function-level target attributes and chosen here.
#include <cstdlib>
#include <cstring>

#include "he_native/kernels.hpp"
#include "he_native/platform.hpp"

namespace he_native {

CpuFeatures cpu_features() {
    CpuFeatures f{false, false, false, false};
#if HE_X86
    __builtin_cpu_init();
    f.aesni = __builtin_cpu_supports("aes") && __builtin_cpu_supports("ssse3") &&
              __builtin_cpu_supports("sse4.1");
    f.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
    f.avx512 = f.avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
    f.vaes = f.avx512 && f.aesni && __builtin_cpu_supports("vaes");
#endif
    return f;
}

// HE_LEARN_NATIVE_ISA=generic|avx2 caps the vector paths below what the CPU offers, so
// the tests can run the portable code on any machine (like NumPy's NPY_DISABLE_CPU_FEATURES).
// "generic" also selects the portable AES. Unset or any other value: no cap.
Isa isa_cap() {
    const char* cap = std::getenv(kIsaCapVariable);
    if (cap == nullptr) return Isa::avx512;
    if (std::strcmp(cap, "generic") == 0) return Isa::generic;
    if (std::strcmp(cap, "avx2") == 0) return Isa::avx2;
    return Isa::avx512;
}

Isa best_isa() {
    // Cheap: __builtin_cpu_supports reads a table filled once by the runtime.
    CpuFeatures f = cpu_features();
    Isa cap = isa_cap();
    if (f.avx512 && cap == Isa::avx512) return Isa::avx512;
    if (f.avx2 && cap != Isa::generic) return Isa::avx2;
    return Isa::generic;
}

}  // namespace he_native
