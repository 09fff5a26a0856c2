// CUDA kernels of the fused batched proximal-gradient step (see prox_grad_step.h for the contract).
//
// Pure CUDA: no torch headers, so `nvcc -c prox_grad_step.cu` compiles this file on its own.
//
// Memory traffic: every element of z, grad and x_prev is read once and every element of x_new and
// z_next written once (the group kernel re-reads z and grad only for groups longer than
// kTeamMax * kGroupRegs entries, whose values do not fit in registers).  The per-problem
// reductions are done per block (warp shuffles, then one shared-memory round) and combined across
// blocks with one atomicAdd per block and per reduction into diff2 / norm2, which the launcher
// zeroes first.  The atomic order is unspecified, so the reductions are reproducible only up to
// rounding.
//
// Layout: a 2-D grid, x over tiles of one row (problem), y over rows; rows beyond the 65535
// limit of gridDim.y are covered by a grid-stride loop, so any batch size works.  All element
// offsets are 64-bit.

#include <cstdint>

#include <cuda_runtime.h>

#include "prox_grad_step.h"

namespace sparserec {
namespace {

constexpr int kThreads = 256;                  // threads per block (a multiple of the warp size)
constexpr int kItems = 4;                      // elements per thread in the elementwise kernel
constexpr int kTile = kThreads * kItems;       // elements of one row handled by one block
constexpr int kTeamMax = 32;                   // largest team (threads sharing one group): a warp
constexpr int kGroupRegs = 8;                  // group entries kept in registers per thread
constexpr int64_t kMaxGridY = 65535;           // hardware limit of gridDim.y
constexpr unsigned kFullMask = 0xffffffffu;

// ------------------------------------------------------------------------------------ helpers

// max(d, 0) that propagates NaN, like torch.maximum in the reference.
template <typename T>
__device__ __forceinline__ T relu_nan(T d) {
  return (d > T(0) || d != d) ? d : T(0);
}

// sign(v) in {-1, 0, 1}; NaN gives 0 (the product with relu_nan(NaN) is still NaN).
template <typename T>
__device__ __forceinline__ T sign_of(T v) {
  return static_cast<T>((v > T(0)) - (v < T(0)));
}

// Half thresholding (prox of tau |x|^{1/2}), the closed form used by the reference:
// with lam = 2 tau, zero when |v| <= cbrt(54)/4 lam^{2/3}, otherwise
// 2/3 v (1 + cos(2 pi / 3 - 2/3 acos(lam / 8 (|v| / 3)^{-3/2}))).
template <typename T>
__device__ __forceinline__ T prox_half(T v, T tau) {
  const T lam = T(2) * tau;
  const T c54 = T(0.94494580494747542);  // cbrt(54) / 4
  const T thr = c54 * cbrt(lam * lam);
  const T a = fabs(v);
  if (!(a > thr)) return T(0);
  const T s = a / T(3);
  T arg = (lam / T(8)) / (s * sqrt(s));
  arg = fmin(fmax(arg, T(-1)), T(1));
  const T phi = acos(arg);
  const T two_pi_3 = T(2.0943951023931957);  // 2 pi / 3
  return (T(2) / T(3)) * v * (T(1) + cos(two_pi_3 - (T(2) / T(3)) * phi));
}

// Elementwise prox of tau * g for the separable penalties (KIND is a compile-time constant, so
// each instantiation keeps only its own branch).
template <typename T, int KIND>
__device__ __forceinline__ T prox_elem(T v, T tau) {
  if (KIND == kProxL1) return sign_of(v) * relu_nan(fabs(v) - tau);
  if (KIND == kProxNonnegL1) return relu_nan(v - tau);
  if (KIND == kProxL0) return (v * v > T(2) * tau) ? v : T(0);
  return prox_half(v, tau);  // kProxL12
}

// Sum of a and b over a warp; every lane ends with the totals.
template <typename T>
__device__ __forceinline__ void warp_sum2(T& a, T& b) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    a += __shfl_xor_sync(kFullMask, a, off);
    b += __shfl_xor_sync(kFullMask, b, off);
  }
}

// Sum of a and b over the block; thread 0 ends with the totals.  Every thread of the block must
// call it (it synchronises), and it may be called again right away (it synchronises on exit).
template <typename T>
__device__ __forceinline__ void block_sum2(T& a, T& b) {
  __shared__ T sa[kThreads / 32];
  __shared__ T sb[kThreads / 32];
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  warp_sum2(a, b);
  if (lane == 0) {
    sa[warp] = a;
    sb[warp] = b;
  }
  __syncthreads();
  if (warp == 0) {
    a = lane < kThreads / 32 ? sa[lane] : T(0);
    b = lane < kThreads / 32 ? sb[lane] : T(0);
    warp_sum2(a, b);
  }
  __syncthreads();
}

// Adds the block's partial sums d2 / n2 of one row to diff2[row] / norm2[row]: the block
// reduction, then one atomicAdd per reduction from thread 0.  Every thread of the block must call it.
template <typename T>
__device__ __forceinline__ void block_add_row(T d2, T n2, T* __restrict__ diff2, T* __restrict__ norm2,
                                              int64_t row) {
  block_sum2(d2, n2);
  if (threadIdx.x == 0) {
    atomicAdd(diff2 + row, d2);
    atomicAdd(norm2 + row, n2);
  }
}

// ------------------------------------------------------------------------------------ kernels

// Separable penalties.  Block (x, y) handles the tile [x * kTile, (x + 1) * kTile) of rows
// y, y + gridDim.y, ...; thread i of the block handles columns x * kTile + i + k * kThreads
// (k < kItems), so consecutive threads touch consecutive addresses (coalesced).
template <typename T, int KIND>
__global__ void __launch_bounds__(kThreads)
    prox_grad_elementwise_kernel(const T* __restrict__ z, const T* __restrict__ grad, const T* __restrict__ x_prev,
                                 const T* __restrict__ step, const T* __restrict__ lam, const T* __restrict__ beta,
                                 T* __restrict__ x_new, T* __restrict__ z_next, T* __restrict__ diff2,
                                 T* __restrict__ norm2, int64_t B, int64_t N) {
  const int64_t col0 = static_cast<int64_t>(blockIdx.x) * kTile + threadIdx.x;
  for (int64_t row = blockIdx.y; row < B; row += gridDim.y) {  // uniform across the block
    const T t = step[row];
    const T tau = t * lam[row];
    const T bt = beta[row];
    const int64_t base = row * N;
    T d2 = T(0);
    T n2 = T(0);
#pragma unroll
    for (int k = 0; k < kItems; ++k) {
      const int64_t col = col0 + static_cast<int64_t>(k) * kThreads;
      if (col < N) {
        const int64_t i = base + col;
        const T x = prox_elem<T, KIND>(z[i] - t * grad[i], tau);
        const T d = x - x_prev[i];
        x_new[i] = x;
        z_next[i] = x + bt * d;
        d2 += d * d;
        n2 += x * x;
      }
    }
    block_add_row(d2, n2, diff2, norm2, row);
  }
}

// Group soft threshold x_g = v_g * max(1 - tau / ||v_g||, 0) over contiguous groups of S entries.
// A team of TS threads (a power of two <= 32, so a team never straddles a warp) handles one group:
// each thread keeps up to kGroupRegs of its entries in registers, the team sums the squares with
// segmented warp shuffles, then scales and writes.  A block holds kThreads / TS teams, all in the
// same row, so the block reduction of d2 / n2 belongs to one problem.
template <typename T, int TS>
__global__ void __launch_bounds__(kThreads)
    prox_grad_group_kernel(const T* __restrict__ z, const T* __restrict__ grad, const T* __restrict__ x_prev,
                           const T* __restrict__ step, const T* __restrict__ lam, const T* __restrict__ beta,
                           T* __restrict__ x_new, T* __restrict__ z_next, T* __restrict__ diff2,
                           T* __restrict__ norm2, int64_t B, int64_t G, int64_t S) {
  constexpr int kTeams = kThreads / TS;
  const int lane = threadIdx.x % TS;
  const int64_t group = static_cast<int64_t>(blockIdx.x) * kTeams + threadIdx.x / TS;
  // Inactive teams (past the last group) still take part in the shuffles and the block reduction.
  const bool active = group < G;
  const int64_t N = G * S;
  for (int64_t row = blockIdx.y; row < B; row += gridDim.y) {
    const T t = step[row];
    const T tau = t * lam[row];
    const T bt = beta[row];
    const int64_t base = row * N + group * S;

    // pass 1: v = z - t grad (kept in registers) and the partial sum of squares
    T v[kGroupRegs];
    T ss = T(0);
#pragma unroll
    for (int k = 0; k < kGroupRegs; ++k) {
      const int64_t j = lane + static_cast<int64_t>(k) * TS;
      v[k] = T(0);
      if (active && j < S) {
        v[k] = z[base + j] - t * grad[base + j];
        ss += v[k] * v[k];
      }
    }
    if (active) {  // entries beyond the registers (only when S > TS * kGroupRegs)
      for (int64_t j = lane + static_cast<int64_t>(kGroupRegs) * TS; j < S; j += TS) {
        const T w = z[base + j] - t * grad[base + j];
        ss += w * w;
      }
    }
#pragma unroll
    for (int off = TS / 2; off > 0; off >>= 1) ss += __shfl_xor_sync(kFullMask, ss, off, TS);
    const T nrm = sqrt(ss);
    const T scale = relu_nan(T(1) - tau / (nrm > T(0) ? nrm : T(1)));

    // pass 2: scale, momentum step, reductions
    T d2 = T(0);
    T n2 = T(0);
#pragma unroll
    for (int k = 0; k < kGroupRegs; ++k) {
      const int64_t j = lane + static_cast<int64_t>(k) * TS;
      if (active && j < S) {
        const T x = v[k] * scale;
        const T d = x - x_prev[base + j];
        x_new[base + j] = x;
        z_next[base + j] = x + bt * d;
        d2 += d * d;
        n2 += x * x;
      }
    }
    if (active) {
      for (int64_t j = lane + static_cast<int64_t>(kGroupRegs) * TS; j < S; j += TS) {
        const T x = (z[base + j] - t * grad[base + j]) * scale;
        const T d = x - x_prev[base + j];
        x_new[base + j] = x;
        z_next[base + j] = x + bt * d;
        d2 += d * d;
        n2 += x * x;
      }
    }
    block_add_row(d2, n2, diff2, norm2, row);
  }
}

// ------------------------------------------------------------------------------------ launchers

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

template <typename T, int KIND>
void launch_elementwise(const T* z, const T* grad, const T* x_prev, const T* step, const T* lam, const T* beta,
                        T* x_new, T* z_next, T* diff2, T* norm2, int64_t B, int64_t N, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(ceil_div(N, kTile)), static_cast<unsigned>(B < kMaxGridY ? B : kMaxGridY));
  prox_grad_elementwise_kernel<T, KIND>
      <<<grid, kThreads, 0, stream>>>(z, grad, x_prev, step, lam, beta, x_new, z_next, diff2, norm2, B, N);
}

template <typename T, int TS>
void launch_group(const T* z, const T* grad, const T* x_prev, const T* step, const T* lam, const T* beta, T* x_new,
                  T* z_next, T* diff2, T* norm2, int64_t B, int64_t G, int64_t S, cudaStream_t stream) {
  constexpr int kTeams = kThreads / TS;
  const dim3 grid(static_cast<unsigned>(ceil_div(G, kTeams)), static_cast<unsigned>(B < kMaxGridY ? B : kMaxGridY));
  prox_grad_group_kernel<T, TS>
      <<<grid, kThreads, 0, stream>>>(z, grad, x_prev, step, lam, beta, x_new, z_next, diff2, norm2, B, G, S);
}

// Team size for groups of S entries: the smallest power of two >= S, at most a warp.
inline int team_size(int64_t S) {
  int ts = 1;
  while (ts < kTeamMax && ts < S) ts <<= 1;
  return ts;
}

}  // namespace

template <typename T>
cudaError_t launch_prox_grad_step(const T* z, const T* grad, const T* x_prev, const T* step, const T* lam,
                                  const T* beta, T* x_new, T* z_next, T* diff2, T* norm2, int64_t B, int64_t N,
                                  int kind, int64_t group_size, cudaStream_t stream) {
  if (kind < kProxL1 || kind > kProxL21) return cudaErrorInvalidValue;
  if (kind == kProxL21 && (group_size < 1 || N % group_size != 0)) return cudaErrorInvalidValue;
  if (B <= 0) return cudaSuccess;
  cudaError_t err = cudaMemsetAsync(diff2, 0, static_cast<size_t>(B) * sizeof(T), stream);
  if (err != cudaSuccess) return err;
  err = cudaMemsetAsync(norm2, 0, static_cast<size_t>(B) * sizeof(T), stream);
  if (err != cudaSuccess) return err;
  if (N <= 0) return cudaSuccess;

  switch (kind) {
    case kProxL1:
      launch_elementwise<T, kProxL1>(z, grad, x_prev, step, lam, beta, x_new, z_next, diff2, norm2, B, N, stream);
      break;
    case kProxNonnegL1:
      launch_elementwise<T, kProxNonnegL1>(z, grad, x_prev, step, lam, beta, x_new, z_next, diff2, norm2, B, N,
                                           stream);
      break;
    case kProxL0:
      launch_elementwise<T, kProxL0>(z, grad, x_prev, step, lam, beta, x_new, z_next, diff2, norm2, B, N, stream);
      break;
    case kProxL12:
      launch_elementwise<T, kProxL12>(z, grad, x_prev, step, lam, beta, x_new, z_next, diff2, norm2, B, N, stream);
      break;
    default: {  // kProxL21
      const int64_t S = group_size;
      const int64_t G = N / S;
      switch (team_size(S)) {
        case 1: launch_group<T, 1>(z, grad, x_prev, step, lam, beta, x_new, z_next, diff2, norm2, B, G, S, stream); break;
        case 2: launch_group<T, 2>(z, grad, x_prev, step, lam, beta, x_new, z_next, diff2, norm2, B, G, S, stream); break;
        case 4: launch_group<T, 4>(z, grad, x_prev, step, lam, beta, x_new, z_next, diff2, norm2, B, G, S, stream); break;
        case 8: launch_group<T, 8>(z, grad, x_prev, step, lam, beta, x_new, z_next, diff2, norm2, B, G, S, stream); break;
        case 16: launch_group<T, 16>(z, grad, x_prev, step, lam, beta, x_new, z_next, diff2, norm2, B, G, S, stream); break;
        default: launch_group<T, 32>(z, grad, x_prev, step, lam, beta, x_new, z_next, diff2, norm2, B, G, S, stream); break;
      }
    }
  }
  return cudaGetLastError();
}

template cudaError_t launch_prox_grad_step<float>(const float*, const float*, const float*, const float*,
                                                  const float*, const float*, float*, float*, float*, float*, int64_t,
                                                  int64_t, int, int64_t, cudaStream_t);
template cudaError_t launch_prox_grad_step<double>(const double*, const double*, const double*, const double*,
                                                   const double*, const double*, double*, double*, double*, double*,
                                                   int64_t, int64_t, int, int64_t, cudaStream_t);

}  // namespace sparserec
