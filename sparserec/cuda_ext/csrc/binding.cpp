// Torch binding of the CUDA C++ fused proximal-gradient step (kernels in prox_grad_step.cu).
//
// The only file of the extension that includes torch headers.  It validates the tensors, picks
// the device and stream, and calls the templated launcher.  Outputs are allocated by the Python
// wrapper (sparserec/cuda_ext/_cpp.py) and passed in, so that callers and tests control them.

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/extension.h>

#include "prox_grad_step.h"

namespace {

void check_tensor(const torch::Tensor& t, const torch::Tensor& like, const char* name) {
  TORCH_CHECK(t.is_cuda(), "prox_grad_step: ", name, " must be a CUDA tensor");
  TORCH_CHECK(t.device() == like.device(), "prox_grad_step: ", name, " is on ", t.device(), " but z is on ",
              like.device(), " (move it explicitly; nothing is moved silently)");
  TORCH_CHECK(t.scalar_type() == like.scalar_type(), "prox_grad_step: ", name, " has dtype ", t.scalar_type(),
              " but z has dtype ", like.scalar_type());
}

void check_output(const torch::Tensor& t, const torch::Tensor& like, const char* name,
                  c10::IntArrayRef shape) {
  check_tensor(t, like, name);
  TORCH_CHECK(t.sizes() == shape, "prox_grad_step: output ", name, " has shape ", t.sizes(), ", expected ", shape);
  TORCH_CHECK(t.is_contiguous(), "prox_grad_step: output ", name, " must be contiguous");
}

// Fills x_new, z_next (B, N) and diff2, norm2 (B,) in place; see prox_grad_step.h.
void prox_grad_step_out(const torch::Tensor& z, const torch::Tensor& grad, const torch::Tensor& x_prev,
                        const torch::Tensor& step, const torch::Tensor& lam, const torch::Tensor& beta,
                        const torch::Tensor& x_new, const torch::Tensor& z_next, const torch::Tensor& diff2,
                        const torch::Tensor& norm2, int64_t kind, int64_t group_size) {
  TORCH_CHECK(z.dim() == 2, "prox_grad_step: z must have shape (B, N), got ", z.sizes());
  TORCH_CHECK(z.is_cuda(), "prox_grad_step: z must be a CUDA tensor");
  TORCH_CHECK(z.scalar_type() == at::kFloat || z.scalar_type() == at::kDouble,
              "prox_grad_step: dtype must be float32 or float64, got ", z.scalar_type());
  TORCH_CHECK(kind >= sparserec::kProxL1 && kind <= sparserec::kProxL21, "prox_grad_step: bad kind code ", kind);
  const int64_t B = z.size(0);
  const int64_t N = z.size(1);
  if (kind == sparserec::kProxL21) {
    TORCH_CHECK(group_size >= 1 && N % group_size == 0, "prox_grad_step: N=", N,
                " is not a multiple of group_size=", group_size);
  }
  check_tensor(grad, z, "grad");
  check_tensor(x_prev, z, "x_prev");
  TORCH_CHECK(grad.sizes() == z.sizes() && x_prev.sizes() == z.sizes(),
              "prox_grad_step: z, grad and x_prev must share one (B, N) shape");
  const std::vector<int64_t> vec_shape{B};
  for (const auto& p : {std::make_pair(&step, "step"), std::make_pair(&lam, "lam"), std::make_pair(&beta, "beta")}) {
    check_tensor(*p.first, z, p.second);
    TORCH_CHECK(p.first->sizes() == c10::IntArrayRef(vec_shape), "prox_grad_step: ", p.second,
                " must have shape (B,) = (", B, ",), got ", p.first->sizes());
  }
  check_output(x_new, z, "x_new", z.sizes());
  check_output(z_next, z, "z_next", z.sizes());
  check_output(diff2, z, "diff2", vec_shape);
  check_output(norm2, z, "norm2", vec_shape);

  const c10::cuda::CUDAGuard guard(z.device());
  const auto zc = z.contiguous();
  const auto gc = grad.contiguous();
  const auto xc = x_prev.contiguous();
  const auto sc = step.contiguous();
  const auto lc = lam.contiguous();
  const auto bc = beta.contiguous();
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(z.device().index()).stream();

  cudaError_t err = cudaSuccess;
  AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "prox_grad_step", [&] {
    err = sparserec::launch_prox_grad_step<scalar_t>(
        zc.data_ptr<scalar_t>(), gc.data_ptr<scalar_t>(), xc.data_ptr<scalar_t>(), sc.data_ptr<scalar_t>(),
        lc.data_ptr<scalar_t>(), bc.data_ptr<scalar_t>(), x_new.data_ptr<scalar_t>(), z_next.data_ptr<scalar_t>(),
        diff2.data_ptr<scalar_t>(), norm2.data_ptr<scalar_t>(), B, N, static_cast<int>(kind), group_size, stream);
  });
  TORCH_CHECK(err == cudaSuccess, "prox_grad_step: CUDA launch failed: ", cudaGetErrorString(err));
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "sparserec.cuda_ext CUDA C++ kernels (fused batched proximal-gradient step)";
  m.def("prox_grad_step_out", &prox_grad_step_out,
        "Fused prox-gradient step writing into x_new, z_next, diff2, norm2 (see prox_grad_step.h)",
        pybind11::arg("z"), pybind11::arg("grad"), pybind11::arg("x_prev"), pybind11::arg("step"),
        pybind11::arg("lam"), pybind11::arg("beta"), pybind11::arg("x_new"), pybind11::arg("z_next"),
        pybind11::arg("diff2"), pybind11::arg("norm2"), pybind11::arg("kind"), pybind11::arg("group_size"));
  // index = kind code of prox_grad_step.h; the Python wrapper checks it against its own table
  m.attr("PROX_KINDS") = pybind11::make_tuple("l1", "nonneg_l1", "l0", "l12", "l21");
}
