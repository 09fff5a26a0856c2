r"""Local differential privacy: mechanisms and sparse linear regression.

* Mechanisms: :func:`shrink` (clipping before noise), :class:`GaussianMechanism` (classical and
  analytic Balle–Wang calibration), :class:`LaplaceMechanism`; accounting records
  (:class:`PrivacyRecord`) and the one-query-per-user :class:`UserLedger`.
* Non-interactive: :func:`nldp_slr` (with ``public_X=`` for the public-data variant), the
  user-side :func:`nldp_slr_release` / :func:`nldp_slr_cross_release` and the server-side
  :func:`nldp_slr_server`.
* Sequentially interactive: :func:`ldp_iht`, :func:`ldp_iht_release`, :class:`LDPIHTServer`.
* Simulation drivers reaching :math:`10^9` users: :func:`simulate_nldp_slr`,
  :func:`simulate_ldp_iht`.

Every rate scales as :math:`1/(\sqrt n\,\varepsilon)`.  See ``docs/privacy.rst``.
"""

from .accounting import PrivacyRecord, PrivacyViolationError, ReleaseRecord, UserLedger, basic_composition
from .interactive import LDPIHTServer, group_sizes, ldp_iht, ldp_iht_mechanism, ldp_iht_release
from .mechanisms import (
    GaussianMechanism,
    LaplaceMechanism,
    analytic_gaussian_sigma,
    classical_gaussian_sigma,
    gaussian_delta,
    gaussian_sigma,
    laplace_scale,
    shrink,
)
from .noninteractive import (
    nldp_slr,
    nldp_slr_cross_release,
    nldp_slr_mechanisms,
    nldp_slr_release,
    nldp_slr_server,
    public_cross_mechanism,
)
from .simulation import population_iht, rademacher_statistics, simulate_ldp_iht, simulate_nldp_slr

__all__ = [
    "GaussianMechanism",
    "LDPIHTServer",
    "LaplaceMechanism",
    "PrivacyRecord",
    "PrivacyViolationError",
    "ReleaseRecord",
    "UserLedger",
    "analytic_gaussian_sigma",
    "basic_composition",
    "classical_gaussian_sigma",
    "gaussian_delta",
    "gaussian_sigma",
    "group_sizes",
    "laplace_scale",
    "ldp_iht",
    "ldp_iht_mechanism",
    "ldp_iht_release",
    "nldp_slr",
    "nldp_slr_cross_release",
    "nldp_slr_mechanisms",
    "nldp_slr_release",
    "nldp_slr_server",
    "population_iht",
    "public_cross_mechanism",
    "rademacher_statistics",
    "shrink",
    "simulate_ldp_iht",
    "simulate_nldp_slr",
]
