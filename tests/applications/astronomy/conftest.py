import os

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def real_setting():
    from sparserec.applications.astronomy import real_galaxy_setting

    return {snr: real_galaxy_setting(snr, seed=0) for snr in (50.0, 20.0)}


@pytest.fixture(scope="session")
def shipped_setting():
    from sparserec.applications.astronomy import shipped_ground_setting

    return shipped_ground_setting(50.0, seed=0)


def target_conv(img, g):
    from sparserec.applications.astronomy import psf_to_otf

    shp = img.shape[-2:]
    return np.fft.irfft2(np.fft.rfft2(img) * psf_to_otf(g, shp), shp)
