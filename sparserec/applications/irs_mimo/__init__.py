"""IRS-aided MIMO uplink channel estimation (Kronecker-structured sparse recovery).

Simulator (:func:`simulate_channels`, :func:`design_training`, :func:`received_signal`), the
measurement model as a Kronecker operator (:func:`measurement_operator`), estimators behind
:func:`estimate_channel` (SVD/AM/PC-KroSBL, SBL, PC-SBL, KOMP, LS, oracle LS), metrics
(:func:`channel_nmse`, :func:`qpsk_ser`) and the experiment runner
(``python -m sparserec.applications.irs_mimo.experiment``).
"""

from .estimators import METHODS, ChannelEstimate, estimate_channel
from .metrics import channel_nmse, qpsk_ser
from .model import cascaded_channels, measurement_factors, measurement_operator, received_signal, true_sparse
from .pipeline import pipeline_preset
from .system import Channels, IRSSystem, Training, array_response, design_training, simulate_channels

__all__ = [
    "METHODS",
    "ChannelEstimate",
    "Channels",
    "IRSSystem",
    "Training",
    "array_response",
    "cascaded_channels",
    "channel_nmse",
    "design_training",
    "estimate_channel",
    "measurement_factors",
    "measurement_operator",
    "pipeline_preset",
    "qpsk_ser",
    "received_signal",
    "simulate_channels",
    "true_sparse",
]
