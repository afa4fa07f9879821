// pybind11 bindings for he_learn._native._core. This file only binds: it converts
// arrays, checks shapes, allocates outputs and releases the GIL around the kernels,
// which live in modular.cpp, ring.cpp, matmul.cpp and aes_ctr.cpp. Argument validation
// with friendly errors happens first in he_learn/_native/__init__.py; the checks here
// are the last line of defence and throw std::invalid_argument (Python ValueError).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "he_native/kernels.hpp"
#include "he_native/platform.hpp"

namespace py = pybind11;

namespace {

using i64 = std::int64_t;
using u64 = std::uint64_t;
using Array = py::array_t<i64, py::array::c_style>;

std::vector<py::ssize_t> shape_of(const py::array& a) {
    return std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim());
}

void require_same_shape(const char* op, const Array& ref, const Array& other, const char* name) {
    if (shape_of(ref) != shape_of(other))
        throw std::invalid_argument(std::string(op) + ": " + name + " has a different shape");
}

std::size_t size_of(const py::array& a) { return static_cast<std::size_t>(a.size()); }

std::string key_bytes(const py::bytes& b, const char* op, const char* name) {
    std::string s = b;
    if (s.size() != 16)
        throw std::invalid_argument(std::string(op) + ": " + name + " must be 16 bytes, got " +
                                    std::to_string(s.size()));
    return s;
}

const std::uint8_t* u8p(const std::string& s) {
    return reinterpret_cast<const std::uint8_t*>(s.data());
}

using BinaryKernel = void (*)(const i64*, const i64*, i64*, std::size_t, u64);
using ScalarKernel = void (*)(const i64*, u64, i64*, std::size_t, u64);

Array binary(const char* op, BinaryKernel kernel, const Array& x, const Array& y, u64 q) {
    require_same_shape(op, x, y, "y");
    Array out(shape_of(x));
    const i64* xp = x.data();
    const i64* yp = y.data();
    i64* op_out = out.mutable_data();
    std::size_t n = size_of(x);
    py::gil_scoped_release release;
    kernel(xp, yp, op_out, n, q);
    return out;
}

Array with_scalar(ScalarKernel kernel, const Array& x, u64 y, u64 q) {
    Array out(shape_of(x));
    const i64* xp = x.data();
    i64* op_out = out.mutable_data();
    std::size_t n = size_of(x);
    py::gil_scoped_release release;
    kernel(xp, y, op_out, n, q);
    return out;
}

void bind_modular(py::module_& m) {
    m.def("mod_add", [](const Array& x, const Array& y, u64 q) {
        return binary("mod_add", he_native::mod_add, x, y, q);
    });
    m.def("mod_sub", [](const Array& x, const Array& y, u64 q) {
        return binary("mod_sub", he_native::mod_sub, x, y, q);
    });
    m.def("mod_mul", [](const Array& x, const Array& y, u64 q) {
        return binary("mod_mul", he_native::mod_mul, x, y, q);
    });
    m.def("mod_add_scalar", [](const Array& x, u64 y, u64 q) {
        return with_scalar(he_native::mod_add_scalar, x, y, q);
    });
    m.def("mod_sub_scalar", [](const Array& x, u64 y, u64 q) {
        return with_scalar(he_native::mod_sub_scalar, x, y, q);
    });
    m.def("mod_mul_scalar", [](const Array& x, u64 y, u64 q) {
        return with_scalar(he_native::mod_mul_scalar, x, y, q);
    });
    m.def("mod_neg", [](const Array& x, u64 q) {
        Array out(shape_of(x));
        const i64* xp = x.data();
        i64* o = out.mutable_data();
        std::size_t n = size_of(x);
        py::gil_scoped_release release;
        he_native::mod_neg(xp, o, n, q);
        return out;
    });
    m.def("mod_reduce", [](const Array& x, u64 q) {
        Array out(shape_of(x));
        const i64* xp = x.data();
        i64* o = out.mutable_data();
        std::size_t n = size_of(x);
        py::gil_scoped_release release;
        he_native::mod_reduce(xp, o, n, q);
        return out;
    });
    m.def("mod_sum", [](const Array& shares, u64 q) {
        if (shares.ndim() < 1)
            throw std::invalid_argument("mod_sum: shares needs a leading share axis");
        std::vector<py::ssize_t> shape = shape_of(shares);
        std::size_t n_shares = static_cast<std::size_t>(shape[0]);
        shape.erase(shape.begin());
        Array out(shape);
        const i64* sp = shares.data();
        i64* o = out.mutable_data();
        std::size_t n = size_of(out);
        py::gil_scoped_release release;
        he_native::mod_sum(sp, n_shares, o, n, q);
        return out;
    });
}

void require_matrix(const char* op, const Array& a, const char* name) {
    if (a.ndim() != 2)
        throw std::invalid_argument(std::string(op) + ": " + name + " must be 2-D");
}

void bind_ring(py::module_& m) {
    m.def("ring_matmul", [](const Array& a, const Array& b) {
        require_matrix("ring_matmul", a, "a");
        require_matrix("ring_matmul", b, "b");
        if (a.shape(1) != b.shape(0))
            throw std::invalid_argument("ring_matmul: inner dimensions differ");
        std::size_t m_ = a.shape(0), k = a.shape(1), n = b.shape(1);
        Array out({a.shape(0), b.shape(1)});
        const i64* ap = a.data();
        const i64* bp = b.data();
        i64* o = out.mutable_data();
        py::gil_scoped_release release;
        he_native::ring_matmul(ap, bp, o, m_, k, n);
        return out;
    });
    m.def("beaver_mul", [](const Array& a, const Array& b, const Array& c, const Array& e,
                           const Array& f, bool include_ef) {
        for (auto [arr, name] : {std::pair<const Array*, const char*>{&b, "b"}, {&c, "c"},
                                 {&e, "e"}, {&f, "f"}})
            require_same_shape("beaver_mul", a, *arr, name);
        Array out(shape_of(a));
        const i64 *ap = a.data(), *bp = b.data(), *cp = c.data(), *ep = e.data(), *fp = f.data();
        i64* o = out.mutable_data();
        std::size_t n = size_of(a);
        py::gil_scoped_release release;
        he_native::beaver_mul(ap, bp, cp, ep, fp, o, n, include_ef);
        return out;
    });
    m.def("beaver_matmul", [](const Array& a, const Array& b, const Array& c, const Array& e,
                              const Array& f, bool include_ef) {
        for (auto [arr, name] : {std::pair<const Array*, const char*>{&a, "a"}, {&b, "b"},
                                 {&c, "c"}, {&e, "e"}, {&f, "f"}})
            require_matrix("beaver_matmul", *arr, name);
        require_same_shape("beaver_matmul", a, e, "e");
        require_same_shape("beaver_matmul", b, f, "f");
        if (a.shape(1) != b.shape(0) || c.shape(0) != a.shape(0) || c.shape(1) != b.shape(1))
            throw std::invalid_argument("beaver_matmul: shapes do not chain (m,k)@(k,n)->(m,n)");
        std::size_t m_ = a.shape(0), k = a.shape(1), n = b.shape(1);
        Array out({a.shape(0), b.shape(1)});
        const i64 *ap = a.data(), *bp = b.data(), *cp = c.data(), *ep = e.data(), *fp = f.data();
        i64* o = out.mutable_data();
        py::gil_scoped_release release;
        he_native::beaver_matmul(ap, bp, cp, ep, fp, o, m_, k, n, include_ef);
        return out;
    });
    m.def("ring_shift_right", [](const Array& x, unsigned bits) {
        Array out(shape_of(x));
        const i64* xp = x.data();
        i64* o = out.mutable_data();
        std::size_t n = size_of(x);
        py::gil_scoped_release release;
        he_native::ring_shift_right(xp, o, n, bits);
        return out;
    });
    m.def("trunc_share", [](const Array& c, const Array& r_trunc, const Array& r_msb,
                            unsigned bits, bool lead) {
        require_same_shape("trunc_share", c, r_trunc, "r_trunc");
        require_same_shape("trunc_share", c, r_msb, "r_msb");
        Array out(shape_of(c));
        const i64 *cp = c.data(), *tp = r_trunc.data(), *mp = r_msb.data();
        i64* o = out.mutable_data();
        std::size_t n = size_of(c);
        py::gil_scoped_release release;
        he_native::trunc_share(cp, tp, mp, o, n, bits, lead);
        return out;
    });
}

using BytesKernel = void (*)(const std::uint8_t*, const std::uint8_t*, std::uint8_t*, std::size_t);

py::array_t<std::uint8_t> ctr_bytes(BytesKernel kernel, const py::bytes& key,
                                    const py::bytes& counter, std::size_t n_bytes) {
    std::string k = key_bytes(key, "aes_ctr_bytes", "key");
    std::string c = key_bytes(counter, "aes_ctr_bytes", "counter");
    py::array_t<std::uint8_t> out(static_cast<py::ssize_t>(n_bytes));
    std::uint8_t* o = out.mutable_data();
    py::gil_scoped_release release;
    kernel(u8p(k), u8p(c), o, n_bytes);
    return out;
}

void bind_csprng(py::module_& m) {
    m.def("aes_ctr_bytes", [](const py::bytes& key, const py::bytes& counter, std::size_t n) {
        return ctr_bytes(he_native::aes_ctr_bytes, key, counter, n);
    });
    m.def("aes_ctr_bytes_portable",
          [](const py::bytes& key, const py::bytes& counter, std::size_t n) {
              return ctr_bytes(he_native::aes_ctr_bytes_portable, key, counter, n);
          });
    m.def("aes_ctr_ring", [](const py::bytes& key, const py::bytes& counter, std::size_t n) {
        std::string k = key_bytes(key, "aes_ctr_ring", "key");
        std::string c = key_bytes(counter, "aes_ctr_ring", "counter");
        Array out(static_cast<py::ssize_t>(n));
        auto* o = reinterpret_cast<std::uint8_t*>(out.mutable_data());
        py::gil_scoped_release release;
        // Words are the keystream read as little-endian int64 (this is a byte copy on
        // every little-endian host, which is all the platforms we build for).
        he_native::aes_ctr_bytes(u8p(k), u8p(c), o, n * sizeof(i64));
        return out;
    });
    m.def("aes_ctr_mod",
          [](const py::bytes& key, const py::bytes& counter, std::size_t n, u64 q) {
              std::string k = key_bytes(key, "aes_ctr_mod", "key");
              std::string c = key_bytes(counter, "aes_ctr_mod", "counter");
              Array out(static_cast<py::ssize_t>(n));
              i64* o = out.mutable_data();
              std::size_t used;
              {
                  py::gil_scoped_release release;
                  used = he_native::aes_ctr_mod(u8p(k), u8p(c), o, n, q);
              }
              return py::make_tuple(out, used);
          });
    // Which vector path the kernels take (after HE_LEARN_NATIVE_ISA); for tests and reports.
    m.def("active_isa", [] {
        switch (he_native::best_isa()) {
            case he_native::Isa::avx512: return "avx512";
            case he_native::Isa::avx2: return "avx2";
            default: return "generic";
        }
    });
    m.def("cpu_features", [] {
        he_native::CpuFeatures f = he_native::cpu_features();
        py::dict d;
        d["aesni"] = f.aesni;
        d["avx2"] = f.avx2;
        d["avx512"] = f.avx512;
        d["vaes"] = f.vaes;
        return d;
    });
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "he_learn native kernels; use the validated wrappers in he_learn._native.";
    bind_modular(m);
    bind_ring(m);
    bind_csprng(m);
}
