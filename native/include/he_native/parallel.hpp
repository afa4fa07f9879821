// Split an index range over a few std::threads. Work below `grain` items per thread runs
// inline: starting a thread costs tens of microseconds.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace he_native {

// Upper bound on worker threads: the kernels are memory- or multiply-bound and gain
// little past a handful of cores, and they may run inside multi-process benchmarks.
constexpr unsigned kMaxThreads = 8;

inline unsigned worker_count(std::size_t n_items, std::size_t grain) {
    unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    std::size_t by_size = grain == 0 ? 1 : n_items / grain;
    return static_cast<unsigned>(
        std::max<std::size_t>(1, std::min<std::size_t>({by_size, hw, kMaxThreads})));
}

// fn(begin, end) over [0, n) in `align`-multiple chunks. Exceptions are rethrown after join.
template <class Fn>
void parallel_for(std::size_t n, std::size_t grain, std::size_t align, Fn&& fn) {
    unsigned workers = worker_count(n, grain);
    if (workers <= 1) {
        fn(std::size_t{0}, n);
        return;
    }
    std::size_t chunk = (n + workers - 1) / workers;
    if (align > 1) chunk = (chunk + align - 1) / align * align;
    std::vector<std::exception_ptr> errors(workers);
    std::vector<std::thread> threads;
    threads.reserve(workers - 1);
    for (unsigned w = 1; w < workers; ++w) {
        std::size_t begin = std::min(n, w * chunk), end = std::min(n, begin + chunk);
        threads.emplace_back([&, w, begin, end] {
            try {
                if (begin < end) fn(begin, end);
            } catch (...) {
                errors[w] = std::current_exception();
            }
        });
    }
    try {
        fn(std::size_t{0}, std::min(n, chunk));
    } catch (...) {
        errors[0] = std::current_exception();
    }
    for (auto& t : threads) t.join();
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

}  // namespace he_native
