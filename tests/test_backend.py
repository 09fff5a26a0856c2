"""The array-namespace layer: namespaces, devices, dtype helpers, RNG and the kernel registry."""

from __future__ import annotations

import array_api_compat.numpy as xnp
import numpy as np
import pytest

from sparserec import _backend as B
from sparserec._backend import registry as kreg

torch = pytest.importorskip("torch")
import array_api_compat.torch as xtorch  # noqa: E402


# ---------------------------------------------------------------------- namespace / devices
def test_namespace_of_each_library():
    assert B.namespace(np.ones(2)) is xnp
    assert B.namespace(torch.ones(2)) is xtorch
    assert B.namespace(torch.ones(2), None, 3.0, 2, 1j, True) is xtorch
    assert B.namespace() is xnp and B.namespace(None) is xnp
    assert B.namespace(np.float64(1.0), np.ones(3)) is xnp


def test_namespace_mixed_libraries_is_type_error():
    with pytest.raises(TypeError, match=r"mixed array libraries.*never converts silently"):
        B.namespace(np.ones(2), torch.ones(2))


def test_namespace_different_devices_is_value_error():
    with pytest.raises(ValueError, match=r"different devices \(cpu and meta\)"):
        B.namespace(torch.ones(2), torch.ones(2, device="meta"))


def test_namespace_rejects_other_types():
    with pytest.raises(TypeError, match="expected a numpy.ndarray or torch.Tensor, got list"):
        B.namespace([1.0, 2.0])


def test_array_predicates_and_devices():
    a, t = np.ones(2), torch.ones(2)
    assert B.is_numpy(a) and not B.is_numpy(t) and B.is_torch(t) and not B.is_torch(a)
    assert B.is_array(a) and B.is_array(t) and not B.is_array([1.0])
    assert B.backend_name(a) == "numpy" and B.backend_name(t) == "torch"
    assert B.device_of(a) == "cpu" and B.device_of(t) == torch.device("cpu")
    assert B.devices_equal("cuda", "cuda:0") and B.devices_equal(torch.device("cuda:0"), "cuda")
    assert not B.devices_equal("cpu", "cuda") and not B.devices_equal("cuda:0", "cuda:1")
    assert B.devices_equal(torch.device("cpu"), "cpu")


def test_to_backend_and_to_numpy():
    a = np.arange(3.0)
    t = B.to_backend(a, "torch", dtype="float32")
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.device.type == "cpu"
    back = B.to_backend(t, "numpy", dtype=np.float64)
    assert isinstance(back, np.ndarray) and back.dtype == np.float64
    np.testing.assert_array_equal(back, a)
    ro = np.arange(4.0)[::2]
    ro.flags.writeable = False
    np.testing.assert_array_equal(B.to_numpy(B.to_backend(ro, "torch")), [0.0, 2.0])
    with pytest.raises(ValueError, match="numpy arrays live on the CPU"):
        B.to_backend(a, "numpy", device="cuda")
    with pytest.raises(ValueError, match="backend must be 'numpy' or 'torch'"):
        B.to_backend(a, "jax")
    assert B.to_numpy(torch.ones(2, requires_grad=True)).shape == (2,)


def test_asarray_like_and_check_finite():
    t = B.asarray_like([1, 2], torch.ones(1, dtype=torch.float64))
    assert t.dtype == torch.float64
    a = B.asarray_like(0.1, np.ones(1, np.float32))
    assert a.dtype == np.float32
    assert B.asarray_like(np.ones(2), torch.ones(1), dtype="complex64").dtype == torch.complex64
    with pytest.raises(TypeError, match="implicitly"):
        B.asarray_like(torch.ones(2), np.ones(1))
    B.check_finite(np.ones(3))
    B.check_finite(torch.ones(3))
    with pytest.raises(ValueError, match="^b contains NaN or Inf"):
        B.check_finite(np.array([1.0, np.inf]), "b")
    with pytest.raises(ValueError, match="NaN or Inf"):
        B.check_finite(torch.tensor([float("nan")]))


@pytest.mark.parametrize("lib", ["numpy", "torch"])
def test_check_finite_sum_shortcut_and_its_fallback(lib):
    """The finite-sum shortcut: large finite entries whose sum overflows are still accepted (entry
    by entry), and every kind of bad entry is caught, alone or with opposite infinities."""
    arr = (lambda a: np.asarray(a)) if lib == "numpy" else (lambda a: torch.as_tensor(np.asarray(a)))
    B.check_finite(arr([1e308, 1e308, -1.0]))              # sum overflows to inf: fallback, fine
    B.check_finite(arr(np.full((4, 5), 3e38, np.float32)))  # float32 overflow likewise
    B.check_finite(arr(np.array([1 + 2j, 1e308 + 1e308j, 1e308])))
    B.check_finite(arr(np.arange(6)))                       # integers are always finite
    B.check_finite(arr(np.zeros((0, 3))))
    for bad in ([1.0, np.nan], [np.inf, -np.inf], [-np.inf, 1e308], [1e308, 1e308, np.nan],
                np.array([1 + 1j, complex(0, np.inf)]), np.array([complex(np.nan, 0)])):
        with pytest.raises(ValueError, match="NaN or Inf"):
            B.check_finite(arr(bad))
    if lib == "torch":  # a tensor that requires grad is checked without recording a graph
        B.check_finite(torch.ones(3, requires_grad=True))


# ---------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("name", B.SUPPORTED_DTYPES)
def test_dtype_helpers_roundtrip(name):
    nd, td = np.dtype(name), getattr(torch, name)
    assert B.dtype_name(nd) == B.dtype_name(td) == B.dtype_name(name) == name
    assert B.dtype_name(np.zeros(1, nd)) == name
    assert B.resolve_dtype(td, "numpy") == nd and B.resolve_dtype(nd, "torch") == td
    assert B.is_complex_dtype(td) == name.startswith("complex") == B.is_complex_dtype(nd)
    assert B.is_floating_dtype(nd) == name.startswith("float")
    real = name.replace("complex64", "float32").replace("complex128", "float64")
    cplx = {"float32": "complex64", "float64": "complex128"}.get(name, name)
    assert B.real_dtype(nd) == np.dtype(real) and B.real_dtype(td) == getattr(torch, real)
    assert B.complex_dtype(nd) == np.dtype(cplx) and B.complex_dtype(td) == getattr(torch, cplx)
    assert B.default_tol(nd) == B.default_tol(td) == (1e-4 if "32" in real else 1e-10)


def test_dtype_helpers_errors():
    with pytest.raises(TypeError, match="unsupported dtype int64"):
        B.real_dtype(np.int64)
    with pytest.raises(TypeError, match="unsupported dtype"):
        B.complex_dtype(torch.int32)
    with pytest.raises(TypeError, match="dtype is None"):
        B.dtype_name(None)
    assert not B.is_floating_dtype(np.int64) and not B.is_complex_dtype("float64")


def test_result_dtype_promotion():
    assert B.result_dtype(np.float32, np.complex64) == np.complex64
    assert B.result_dtype(np.float32, np.float64) == np.float64
    assert B.result_dtype(np.float64, np.complex64) == np.complex128
    assert B.result_dtype(None, np.float32) == np.float32
    assert B.result_dtype(None, None) is None and B.result_dtype() is None
    assert B.result_dtype(np.float32, torch.complex64) == torch.complex64  # torch wins
    assert B.result_dtype(torch.float32, "float64") == torch.float64


# ---------------------------------------------------------------------- random
def test_default_rng_int_seed_is_reproducible():
    a = B.default_rng(3).normal((4, 2), dtype="float64")
    b = B.default_rng(3).normal((4, 2), dtype="float64")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, np.random.default_rng(3).standard_normal((4, 2)))
    assert not np.array_equal(a, B.default_rng(4).normal((4, 2)))


def test_default_rng_numpy_generator_shares_state():
    g = np.random.default_rng(5)
    r = B.default_rng(g)
    first = r.normal((3,))
    second = B.default_rng(g).normal((3,))  # the same generator continues its stream
    ref = np.random.default_rng(5).standard_normal(6)
    np.testing.assert_array_equal(np.concatenate([first, second]), ref)
    assert r.numpy is g
    assert B.default_rng(r).numpy is g  # wrapping a wrapper shares the state


def test_default_rng_torch_generator():
    a = B.default_rng(torch.Generator().manual_seed(7)).normal((5,), dtype="float32",
                                                                like=torch.zeros(0))
    b = B.default_rng(torch.Generator().manual_seed(7)).normal((5,), dtype="float32",
                                                                like=torch.zeros(0))
    assert isinstance(a, torch.Tensor) and a.dtype == torch.float32
    torch.testing.assert_close(a, b)
    c = B.default_rng(torch.Generator().manual_seed(7)).normal((5,), dtype="float32")
    assert isinstance(c, np.ndarray)  # numpy out when no torch ``like``
    np.testing.assert_array_equal(c, a.numpy())
    g = B.default_rng(torch.Generator().manual_seed(8))
    assert isinstance(g.numpy, np.random.Generator)


@pytest.mark.parametrize("dtype", B.SUPPORTED_DTYPES)
def test_default_rng_dtypes_and_like(dtype):
    z = B.default_rng(0).normal((20000,), dtype=dtype)
    assert z.dtype == np.dtype(dtype)
    assert np.mean(np.abs(z) ** 2) == pytest.approx(1.0, abs=0.05)  # unit variance
    if dtype.startswith("complex"):
        assert np.var(z.real) == pytest.approx(0.5, abs=0.03)
        assert abs(np.mean(z.real * z.imag)) < 0.02
    t = B.default_rng(0).normal((3,), dtype=dtype, like=torch.zeros(0))
    assert t.dtype == getattr(torch, dtype)
    np.testing.assert_array_equal(t.numpy(), B.default_rng(0).normal((3,), dtype=dtype))
    u = B.default_rng(1).uniform((1000,), dtype="float64")
    assert u.min() >= 0 and u.max() < 1


def test_default_rng_rejects_bad_seed():
    with pytest.raises(TypeError, match="rng/seed must be an int"):
        B.default_rng("seed")


# ---------------------------------------------------------------------- kernel registry
@pytest.fixture
def op_name():
    name = "_test_kernel_registry_op"
    yield name
    for key in [k for k in kreg._REGISTRY if k[0] == name]:
        del kreg._REGISTRY[key]


def test_registry_reference_by_default(op_name):
    @B.register_kernel(op_name)
    def ref(x):
        return "reference"

    assert B.get_kernel(op_name) is ref
    assert B.get_kernel(op_name, like=np.ones(1)) is ref
    assert B.get_kernel(op_name, like=torch.ones(1)) is ref
    assert (op_name, "any", "any") in B.list_kernels()


def test_registry_specialised_kernel_for_its_namespace(op_name, monkeypatch):
    monkeypatch.delenv("SPARSEREC_FORCE_REFERENCE", raising=False)

    @B.register_kernel(op_name)
    def ref(x):
        return "reference"

    @B.register_kernel(op_name, namespace="torch")
    def torch_any(x):
        return "torch"

    @B.register_kernel(op_name, namespace="torch", device="cpu")
    def torch_cpu(x):
        return "torch-cpu"

    @B.register_kernel(op_name, namespace="torch", device="cuda")
    def torch_cuda(x):
        return "torch-cuda"

    assert B.get_kernel(op_name, like=np.ones(1)) is ref
    assert B.get_kernel(op_name, like=torch.ones(1)) is torch_cpu  # most specific wins
    assert B.get_kernel(op_name, like=torch.ones(1, device="meta")) is torch_any
    del kreg._REGISTRY[(op_name, "torch", "cpu")]
    assert B.get_kernel(op_name, like=torch.ones(1)) is torch_any


@pytest.mark.parametrize(("value", "forced"), [("1", True), ("yes", True), ("0", False), ("", False)])
def test_registry_force_reference(op_name, monkeypatch, value, forced):
    @B.register_kernel(op_name)
    def ref(x):
        return "reference"

    @B.register_kernel(op_name, namespace="numpy")
    def fast(x):
        return "fast"

    monkeypatch.setenv("SPARSEREC_FORCE_REFERENCE", value)
    assert B.get_kernel(op_name, like=np.ones(1)) is (ref if forced else fast)


def test_registry_errors(op_name):
    with pytest.raises(ValueError, match="register the reference implementation"):
        B.register_kernel(op_name, namespace="torch")(lambda x: x)
    with pytest.raises(KeyError, match="no kernel registered"):
        B.get_kernel(op_name)
