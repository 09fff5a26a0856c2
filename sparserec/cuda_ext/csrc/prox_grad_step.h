// Host-side interface of the fused batched proximal-gradient step (CUDA C++ version).
//
// This header is deliberately free of torch: it needs only the CUDA runtime API, so the kernels
// in prox_grad_step.cu compile standalone with `nvcc -c` and the torch binding (binding.cpp) is
// the only file that sees ATen.  Semantics are those of
// sparserec.cuda_ext.reference.prox_grad_step:
//
//   v      = z - t * grad                    (t = step[b] for problem b)
//   x_new  = prox_{t*lam*g}(v)               (g chosen by `kind`)
//   z_next = x_new + beta * (x_new - x_prev)
//   diff2  = sum_n (x_new - x_prev)^2        (one value per problem)
//   norm2  = sum_n x_new^2
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace sparserec {

// Penalty codes.  The order is the one of sparserec.cuda_ext.reference.PROX_KINDS and is checked
// by tests/cuda_ext/test_cuda_cpp.py (which parses this enum).
enum ProxKind : int {
  kProxL1 = 0,        // "l1":        soft threshold
  kProxNonnegL1 = 1,  // "nonneg_l1": max(v - tau, 0)
  kProxL0 = 2,        // "l0":        hard threshold at sqrt(2 tau)
  kProxL12 = 3,       // "l12":       half thresholding (closed form, Xu et al. 2012)
  kProxL21 = 4,       // "l21":       group soft threshold over contiguous groups of group_size
};

// Launches the fused step on `stream` for a contiguous row-major batch of B problems of length N.
//
// All pointers are device pointers of element type T (float or double):
//   z, grad, x_prev    (B, N) inputs
//   step, lam, beta    (B,)   per-problem step t, weight lambda and momentum beta
//   x_new, z_next      (B, N) outputs (fully overwritten; may hold garbage on entry)
//   diff2, norm2       (B,)   outputs (zeroed here with cudaMemsetAsync, then accumulated)
// Outputs must not alias inputs.  For kind == kProxL21, N must be a multiple of group_size >= 1.
// Returns cudaErrorInvalidValue for a bad kind / group_size, otherwise the launch status.
template <typename T>
cudaError_t launch_prox_grad_step(const T* z, const T* grad, const T* x_prev, const T* step, const T* lam,
                                  const T* beta, T* x_new, T* z_next, T* diff2, T* norm2, int64_t B, int64_t N,
                                  int kind, int64_t group_size, cudaStream_t stream);

// Explicitly instantiated in prox_grad_step.cu.
extern template cudaError_t launch_prox_grad_step<float>(const float*, const float*, const float*, const float*,
                                                         const float*, const float*, float*, float*, float*, float*,
                                                         int64_t, int64_t, int, int64_t, cudaStream_t);
extern template cudaError_t launch_prox_grad_step<double>(const double*, const double*, const double*,
                                                          const double*, const double*, const double*, double*,
                                                          double*, double*, double*, int64_t, int64_t, int, int64_t,
                                                          cudaStream_t);

}  // namespace sparserec
