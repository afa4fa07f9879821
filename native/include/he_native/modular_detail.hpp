// Helpers shared by modular.cpp and modmul.cpp: argument checks, the error for an entry
// outside [0, q), and the threaded loop that ORs together the per-chunk range checks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "he_native/parallel.hpp"

namespace he_native {
namespace detail {

// Below this many elements per thread, a second thread costs more than it saves.
constexpr std::size_t kModGrain = std::size_t{1} << 17;

void check_modulus(const char* op, std::uint64_t q);
void check_scalar(const char* op, std::uint64_t y, std::uint64_t q);
// Rescans arrays[0..count) for the first entry outside [0, q) and throws naming it.
[[noreturn]] void throw_out_of_range(const char* op, const char* const* names,
                                     const std::int64_t* const* arrays, std::size_t count,
                                     std::size_t n, std::uint64_t q);

// Runs body(begin, end) -> bad over [0, n) on a few threads; true when any chunk was bad.
template <class Body>
bool run_checked(std::size_t n, Body&& body) {
    std::atomic<bool> bad{false};
    parallel_for(n, kModGrain, 64, [&](std::size_t b, std::size_t e) {
        if (body(b, e)) bad.store(true, std::memory_order_relaxed);
    });
    return bad.load();
}

// The shape every elementwise Z_q entry point shares: run chunk(begin, end) -> bad on a
// few threads and, only if some chunk saw an entry outside [0, q), rescan the inputs to
// name it. `y` is null for one-operand kernels.
template <class Chunk>
void checked_elementwise(const char* op, const std::int64_t* x, const std::int64_t* y,
                         std::size_t n, std::uint64_t q, Chunk&& chunk) {
    if (!run_checked(n, chunk)) return;
    const char* names[] = {"x", "y"};
    const std::int64_t* arrays[] = {x, y};
    throw_out_of_range(op, names, arrays, y != nullptr ? 2 : 1, n, q);
}

}  // namespace detail
}  // namespace he_native
