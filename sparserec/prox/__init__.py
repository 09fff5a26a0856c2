"""Proximal maps (L1, weighted L1, group L2,1, Lp, L0, CEL0, projections, nuclear norm, TV), batched on numpy and torch. Filled in by the convex-solver work (issue 3)."""
