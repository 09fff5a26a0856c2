"""Local differential privacy: mechanisms and sparse linear regression (non-interactive and interactive)."""
