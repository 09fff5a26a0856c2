r"""Sparse linear regression as Pyro models: ARD/SBL, horseshoe and spike-and-slab.

Following Pyro's separation of *model* and *inference engine*, each prior is a plain model
callable ``model(A, y)`` and :func:`fit` runs an inference engine on it -- stochastic
variational inference with an auto-guide (``inference="svi"``) or NUTS (``inference="nuts"``) --
and returns the posterior summary as a :class:`~sparserec.solvers.result.SolverResult`, so
the full-posterior answer can be compared directly with the EM/VB solvers (:func:`sbl`,
:func:`turbo_vbi`) and give users credible intervals when they want them.

Models (:math:`y = A x + w`, real, one problem):

* :func:`ard_model` -- automatic relevance determination: :math:`\alpha_n \sim \Gamma(a_0, b_0)`,
  :math:`x_n \sim \mathcal N(0, 1/\alpha_n)`.  With vague :math:`(a_0, b_0)`, a point estimate of
  :math:`\alpha` and the noise, and a full-covariance Gaussian :math:`q(x)` (``guide="ard-em"``,
  the default for this model) SVI maximises the same bound as SBL's EM, so its posterior mean
  reproduces :func:`~sparserec.solvers.bayes.sbl`;
* :func:`horseshoe_model` -- :math:`\tau \sim C^+(0, \tau_0)`, :math:`\lambda_n \sim C^+(0, 1)`,
  :math:`x_n \sim \mathcal N(0, \tau^2\lambda_n^2)`;
* :func:`spike_slab_model` -- :math:`x_n \sim (1-p)\,\mathcal N(0, v_0) + p\,\mathcal N(0, v_1)` with
  the Bernoulli indicator summed out (so NUTS and SVI both apply); posterior inclusion
  probabilities are reported.

The noise variance is learned (:math:`\sigma^2 \sim \text{Inv-}\Gamma(a_\sigma, b_\sigma)`) unless
``noise_var`` is given.  torch and pyro are imported lazily (``import sparserec`` never imports
them).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..._backend import is_array, is_torch, to_numpy
from ..result import SolverResult, Status

__all__ = ["MODELS", "ard_model", "fit", "horseshoe_model", "spike_slab_model"]


def _imports() -> tuple[Any, Any, Any]:
    try:
        import pyro
        import pyro.distributions as dist
        import torch
    except ImportError as e:  # pragma: no cover - depends on environment
        raise ImportError("sparserec.solvers.bayes.pyro_models needs pyro-ppl and torch: "
                          "pip install 'sparserec[torch]' pyro-ppl") from e
    return torch, pyro, dist


def _noise(pyro: Any, dist: Any, torch: Any, A: Any, noise_var: float | None,
           noise_prior: tuple[float, float]) -> Any:
    if noise_var is not None:
        return torch.as_tensor(float(noise_var), dtype=A.dtype)
    a, b = noise_prior
    return pyro.sample("noise_var", dist.InverseGamma(torch.tensor(a, dtype=A.dtype), torch.tensor(b, dtype=A.dtype)))


def ard_model(A: Any, y: Any = None, *, noise_var: float | None = None, alpha_prior: tuple[float, float] = (1.0, 1e-6),
              noise_prior: tuple[float, float] = (1e-6, 1e-6)) -> Any:
    r"""ARD / SBL model: :math:`\alpha_n \sim \Gamma(a_0, b_0)`, :math:`x_n \mid \alpha_n \sim
    \mathcal N(0, \alpha_n^{-1})`, :math:`y \sim \mathcal N(Ax, \sigma^2 I)`.

    Parameters
    ----------
    A : torch.Tensor (M, N)
    y : torch.Tensor (M,), optional
        Observed data (``None`` samples from the prior predictive).
    noise_var : float, optional
        Fixed :math:`\sigma^2`; otherwise :math:`\sigma^2 \sim \text{Inv-}\Gamma` (``noise_prior``).
    alpha_prior : (shape, rate)
        Default (1, 1e-6): a flat prior on :math:`\alpha` up to :math:`10^6`, so that the MAP step
        of ``guide="ard-em"`` is SBL's EM update :math:`\alpha_n = 1/\langle x_n^2\rangle`
        (Tipping's :math:`a_0 = b_0 = 10^{-6}` adds :math:`-\ln\alpha` to the objective, which
        sends the MAP to :math:`\alpha = 0`).
    noise_prior : (shape, rate)
    """
    torch, pyro, dist = _imports()
    N = A.shape[1]
    a0 = torch.full((N,), float(alpha_prior[0]), dtype=A.dtype)
    b0 = torch.full((N,), float(alpha_prior[1]), dtype=A.dtype)
    alpha = pyro.sample("alpha", dist.Gamma(a0, b0).to_event(1))
    x = pyro.sample("x", dist.Normal(torch.zeros(N, dtype=A.dtype), alpha.rsqrt()).to_event(1))
    nv = _noise(pyro, dist, torch, A, noise_var, noise_prior)
    return pyro.sample("y", dist.Normal(A @ x, nv.sqrt()).to_event(1), obs=y)


def horseshoe_model(A: Any, y: Any = None, *, noise_var: float | None = None, global_scale: float = 1.0,
                    noise_prior: tuple[float, float] = (1.0, 0.01)) -> Any:
    r"""Horseshoe: :math:`\tau \sim C^+(0, \tau_0)`, :math:`\lambda_n \sim C^+(0, 1)`,
    :math:`x_n \sim \mathcal N(0, \tau^2\lambda_n^2)` (non-centred: :math:`x = \tau\lambda z`)."""
    torch, pyro, dist = _imports()
    N = A.shape[1]
    one = torch.ones(N, dtype=A.dtype)
    tau = pyro.sample("tau", dist.HalfCauchy(torch.tensor(float(global_scale), dtype=A.dtype)))
    lam = pyro.sample("lam", dist.HalfCauchy(one).to_event(1))
    z = pyro.sample("z", dist.Normal(0 * one, one).to_event(1))
    x = pyro.deterministic("x", tau * lam * z, event_dim=1)
    nv = _noise(pyro, dist, torch, A, noise_var, noise_prior)
    return pyro.sample("y", dist.Normal(A @ x, nv.sqrt()).to_event(1), obs=y)


def spike_slab_model(A: Any, y: Any = None, *, noise_var: float | None = None, prob: float = 0.1,
                     slab_var: float = 1.0, spike_var: float = 1e-4,
                     noise_prior: tuple[float, float] = (1.0, 0.01)) -> Any:
    r"""Spike-and-slab with the indicator summed out:
    :math:`x_n \sim (1-p)\mathcal N(0, v_0) + p\,\mathcal N(0, v_1)`, :math:`p` = ``prob``."""
    torch, pyro, dist = _imports()
    if not 0 < prob < 1:
        raise ValueError(f"prob must lie in (0, 1), got {prob!r}")
    N = A.shape[1]
    mix = dist.Categorical(torch.tensor([1 - prob, prob], dtype=A.dtype).expand(N, 2))
    comp = dist.Normal(torch.zeros(N, 2, dtype=A.dtype),
                       torch.tensor([math.sqrt(spike_var), math.sqrt(slab_var)], dtype=A.dtype).expand(N, 2))
    # sample from the slab and correct the density to the mixture (MixtureSameFamily has no
    # unconstraining transform in torch); the log density of x is exactly the mixture's
    base = dist.Normal(torch.zeros(N, dtype=A.dtype), torch.full((N,), math.sqrt(slab_var), dtype=A.dtype))
    x = pyro.sample("x", base.to_event(1))
    pyro.factor("x_mixture", (dist.MixtureSameFamily(mix, comp).log_prob(x) - base.log_prob(x)).sum(-1))
    nv = _noise(pyro, dist, torch, A, noise_var, noise_prior)
    return pyro.sample("y", dist.Normal(A @ x, nv.sqrt()).to_event(1), obs=y)


#: model name -> model callable
MODELS = {"ard": ard_model, "horseshoe": horseshoe_model, "spike_slab": spike_slab_model}


def _inclusion_prob(xs: Any, prob: float, slab_var: float, spike_var: float) -> Any:
    """Average over samples of P(s_n = 1 | x_n) for the spike-and-slab model."""
    torch, _, _ = _imports()
    l1 = math.log(prob) - 0.5 * math.log(slab_var) - 0.5 * xs ** 2 / slab_var
    l0 = math.log(1 - prob) - 0.5 * math.log(spike_var) - 0.5 * xs ** 2 / spike_var
    return torch.sigmoid(l1 - l0).mean(0)


def fit(A: Any, y: Any, model: str | Any = "ard", *, inference: str = "svi", guide: str | None = None,
        noise_var: float | None = None, num_steps: int = 3000, lr: float = 0.02, num_samples: int = 500,
        warmup_steps: int = 300, num_chains: int = 1, max_tree_depth: int = 6, seed: int = 0,
        model_kwargs: dict[str, Any] | None = None,
        verbose: bool = False) -> SolverResult:
    r"""Fit a sparse-regression Pyro model and summarise the posterior of :math:`x`.

    Parameters
    ----------
    A : array (M, N)
        Sensing matrix (numpy or torch, real).
    y : array (M,)
        One real measurement vector.
    model : {"ard", "horseshoe", "spike_slab"} or callable
        Model name (see :data:`MODELS`) or a model ``model(A, y, **model_kwargs)`` with a latent
        site (or deterministic site) named ``"x"``.
    inference : {"svi", "nuts"}
        SVI with an auto-guide (Adam, ``num_steps`` steps, ``lr``) or NUTS (``warmup_steps`` +
        ``num_samples`` per chain).
    guide : {"ard-em", "mvn", "normal"}, optional
        SVI guide: ``"ard-em"`` (default for ``"ard"``: point estimates of :math:`\alpha` and the
        noise, full-covariance Gaussian :math:`q(x)` -- variational EM, SBL's objective), ``"mvn"``
        (:class:`~pyro.infer.autoguide.AutoMultivariateNormal` over all latents, default otherwise)
        or ``"normal"`` (mean-field :class:`~pyro.infer.autoguide.AutoNormal`).
    noise_var : float, optional
        Fixed noise variance (default: learned).
    num_steps, lr, num_samples, warmup_steps, num_chains, max_tree_depth, seed
        Inference settings; ``num_samples`` is also the number of guide draws summarised after SVI.
    model_kwargs : dict, optional
        Extra model arguments (``alpha_prior``, ``prob``, ``slab_var``, ...).
    verbose : bool
        Progress output.

    Returns
    -------
    SolverResult
        ``x``: posterior mean (numpy if the inputs are numpy); ``extras``: ``posterior_var``
        (full length), ``ci_low``/``ci_high`` (5 % / 95 % quantiles), ``samples`` (posterior draws of
        :math:`x`, ``(S, N)``), ``noise_var`` (posterior mean), ``gamma`` (ARD: :math:`1/\alpha`),
        ``inclusion_prob`` (spike-and-slab), ``support`` (ARD/spike-and-slab: inclusion probability
        > 1/2, horseshoe: shrinkage :math:`1 - \kappa_n > 1/2`).  ``history['loss']``: the SVI loss
        (negative ELBO) per step; NUTS records ``accept_prob`` when available.

    Raises
    ------
    ValueError
        Shape mismatch, NaN/Inf, complex data, unknown model/inference/guide.

    Notes
    -----
    These are reference/cross-check tools: NUTS costs :math:`O(N^2)` per leapfrog step and SVI
    thousands of gradient steps, far more than the EM/VB solvers.  Batched ``y`` is not supported.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.solvers.bayes.pyro_models import fit
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((30, 10))
    >>> x = np.zeros(10); x[[1, 7]] = [2.0, -1.0]
    >>> res = fit(A, A @ x + 0.05 * rng.standard_normal(30), "ard", num_steps=1500)
    >>> np.round(res.x[[1, 7]], 1).tolist()
    [2.0, -1.0]
    """
    torch, pyro, dist = _imports()
    from pyro.infer import MCMC, NUTS, SVI, Predictive, Trace_ELBO
    from pyro.infer.autoguide import AutoDelta, AutoGuideList, AutoMultivariateNormal, AutoNormal

    if inference not in ("svi", "nuts"):
        raise ValueError(f"inference must be 'svi' or 'nuts', got {inference!r}")
    kw = dict(model_kwargs or {})
    if isinstance(model, str):
        if model not in MODELS:
            raise ValueError(f"model must be one of {sorted(MODELS)} or a callable, got {model!r}")
        name, mfun = model, MODELS[model]
    elif callable(model):
        name, mfun = getattr(model, "__name__", "custom"), model
    else:
        raise TypeError(f"model must be a name or a callable, got {type(model).__name__}")
    numpy_out = not is_torch(A) and not is_torch(y)
    if not (is_array(A) and is_array(y)):
        raise TypeError("A and y must be numpy arrays or torch tensors")
    An = to_numpy(A)
    yn = to_numpy(y)
    if np.iscomplexobj(An) or np.iscomplexobj(yn):
        raise ValueError("the Pyro models are real-valued; split complex data into real and imaginary parts")
    if An.ndim != 2 or yn.ndim != 1 or yn.shape[0] != An.shape[0]:
        raise ValueError(f"A must have shape (M, N) and y shape (M,), got {An.shape} and {yn.shape}")
    if not (np.all(np.isfinite(An)) and np.all(np.isfinite(yn))):
        raise ValueError("A or y contains NaN or Inf values")
    if noise_var is not None and not (np.isfinite(noise_var) and noise_var > 0):
        raise ValueError(f"noise_var must be finite and strictly positive, got {noise_var!r}")
    At = torch.as_tensor(An, dtype=torch.float64)
    yt = torch.as_tensor(yn, dtype=torch.float64)
    M, N = An.shape
    # unit-scale the data (priors are scale-dependent); undone at the end
    scale = float(np.linalg.norm(yn) / math.sqrt(M)) or 1.0
    ys = yt / scale
    nv_s = None if noise_var is None else float(noise_var) / scale ** 2

    def mdl(A_: Any, y_: Any = None) -> Any:
        return mfun(A_, y_, noise_var=nv_s, **kw)

    pyro.set_rng_seed(seed)
    pyro.clear_param_store()
    hist: dict[str, list[float]] = {}
    t0 = time.perf_counter()
    n_iter = 0
    if inference == "svi":
        gname = guide or ("ard-em" if name == "ard" else "mvn")
        if gname == "ard-em":
            if name != "ard":
                raise ValueError("guide='ard-em' applies to the 'ard' model only")
            from pyro import poutine
            from pyro.infer.autoguide import init_to_value

            hidden = ["alpha"] + (["noise_var"] if nv_s is None else [])
            init = {"alpha": torch.ones(N, dtype=torch.float64), "noise_var": torch.tensor(0.1, dtype=torch.float64)}
            g = AutoGuideList(mdl)
            g.append(AutoDelta(poutine.block(mdl, expose=hidden), init_loc_fn=init_to_value(values=init)))
            g.append(AutoMultivariateNormal(poutine.block(mdl, expose=["x"]), init_scale=0.01))
        elif gname == "mvn":
            g = AutoMultivariateNormal(mdl, init_scale=0.01)
        elif gname == "normal":
            g = AutoNormal(mdl, init_scale=0.01)
        else:
            raise ValueError(f"guide must be 'ard-em', 'mvn' or 'normal', got {gname!r}")
        svi = SVI(mdl, g, pyro.optim.ClippedAdam({"lr": lr, "lrd": 0.1 ** (1 / max(num_steps, 1))}), Trace_ELBO())
        losses = []
        for step in range(int(num_steps)):
            losses.append(float(svi.step(At, ys)))
            if verbose and step % max(1, num_steps // 10) == 0:
                print(f"step {step}: loss {losses[-1]:.4g}")
        hist["loss"] = losses
        n_iter = int(num_steps)
        sites = ["x", "alpha", "noise_var", "lam", "tau"]
        pred = Predictive(mdl, guide=g, num_samples=int(num_samples), return_sites=sites)
        with torch.no_grad():
            draws = pred(At)
        extras_method = f"svi/{gname}"
    else:
        kernel = NUTS(mdl, target_accept_prob=0.8, max_tree_depth=int(max_tree_depth))
        mcmc = MCMC(kernel, num_samples=int(num_samples), warmup_steps=int(warmup_steps), num_chains=int(num_chains),
                    disable_progbar=not verbose)
        mcmc.run(At, ys)
        draws = dict(mcmc.get_samples())
        if "x" not in draws:
            det = Predictive(mdl, posterior_samples=draws, return_sites=["x"])(At)
            draws["x"] = det["x"]
        n_iter = int(num_samples) + int(warmup_steps)
        extras_method = "nuts"
    xs = draws["x"].reshape(-1, N).detach() * scale
    mean = xs.mean(0)
    var = xs.var(0, unbiased=True) if xs.shape[0] > 1 else torch.zeros(N, dtype=xs.dtype)
    extras: dict[str, Any] = {
        "posterior_var": var,
        "ci_low": torch.quantile(xs, 0.05, dim=0),
        "ci_high": torch.quantile(xs, 0.95, dim=0),
        "samples": xs,
        "method": extras_method,
    }
    if "noise_var" in draws:
        extras["noise_var"] = draws["noise_var"].detach().reshape(-1).mean() * scale ** 2
    elif noise_var is not None:
        extras["noise_var"] = torch.tensor(float(noise_var), dtype=torch.float64)
    if name == "ard" and "alpha" in draws:
        gam = (1.0 / draws["alpha"].detach().reshape(-1, N)).mean(0) * scale ** 2
        extras["gamma"] = gam
        # relevance: the posterior keeps a coefficient when its prior variance exceeds its posterior variance
        extras["support"] = gam > 2 * var
    if name == "spike_slab":
        p = float(kw.get("prob", 0.1))
        ip = _inclusion_prob(xs / scale, p, float(kw.get("slab_var", 1.0)), float(kw.get("spike_var", 1e-4)))
        extras["inclusion_prob"] = ip
        extras["support"] = ip > 0.5
    if name == "horseshoe" and "lam" in draws and "tau" in draws:
        lam = draws["lam"].detach().reshape(-1, N)
        tau = draws["tau"].detach().reshape(-1, 1)
        nvd = draws["noise_var"].detach().reshape(-1, 1) if "noise_var" in draws else torch.tensor(nv_s)
        cn = (At ** 2).sum(0)
        kappa = 1.0 / (1.0 + (tau * lam) ** 2 * cn / nvd)  # shrinkage factor per coefficient
        extras["shrinkage"] = kappa.mean(0)
        extras["support"] = extras["shrinkage"] < 0.5
    hist["time"] = [time.perf_counter() - t0]

    def out(v: Any) -> Any:
        if isinstance(v, torch.Tensor):
            return v.numpy() if numpy_out else v
        return v

    hist_np = {k: np.asarray(v) for k, v in hist.items()}
    return SolverResult(x=out(mean), status=Status.CONVERGED, problem_status=np.zeros((), dtype=np.int64),
                        converged=np.ones((), dtype=bool), n_iter=np.asarray(n_iter, dtype=np.int64),
                        history=hist_np, params={"model": name, "inference": inference, "num_steps": num_steps,
                                                 "lr": lr, "num_samples": num_samples, "seed": seed,
                                                 "warmup_steps": warmup_steps, "signal_scale": scale},
                        extras={k: out(v) for k, v in extras.items()}, solver=f"pyro_{name}")
