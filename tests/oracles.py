"""Published CDNOW estimates: one statement, asserted by every fit that must reproduce them.

The in-memory fitters (test_clv) and the Dask fits from sufficient statistics
(test_scaleout_dask) fit the CDNOW summaries that ship inside lifetimes and must land on
the estimates the papers publish:

- BG/NBD: Fader, Hardie and Lee (2005), "Counting your customers" the easy way, table 1:
  r=0.243, alpha=4.414, a=0.793, b=2.426, log-likelihood -9582.4, on 2,357 customers.
- Gamma-Gamma: Fader, Hardie and Lee (2005b), "RFM and CLV", p=6.25, q=3.74 (gamma, the
  scale, is published as 15.44: truncated, see test_clv).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmscore import BetaGeoParams, GammaGammaParams

if TYPE_CHECKING:
    from crmscore import BetaGeoModel, GammaGammaModel

#: lifetimes' fit of CDNOW (weekly summary), and the published estimates.
LIFETIMES_CDNOW = BetaGeoParams(r=0.242593, alpha=4.413532, a=0.792886, b=2.425752)
LIFETIMES_CDNOW_SPEND = GammaGammaParams(p=6.248802, q=3.744588, v=15.447748)

#: FHL (2005), table 1: (r, alpha, a, b) to the 3 published decimals.
CDNOW_BGNBD_PUBLISHED = (0.243, 4.414, 0.793, 2.426)
#: FHL (2005), table 1: the log-likelihood at the maximum, to the published decimal.
CDNOW_BGNBD_LOG_LIKELIHOOD = -9582.4
#: Customers in the CDNOW sample.
CDNOW_CUSTOMERS = 2357
#: FHL (2005b): (p, q) to the 2 published decimals.
CDNOW_GAMMA_GAMMA_PUBLISHED = (6.25, 3.74)


def assert_published_cdnow_bgnbd(model: BetaGeoModel) -> None:
    """The fitted BG/NBD model is FHL (2005)'s: parameters, log-likelihood, customers."""
    p = model.params
    assert (round(p.r, 3), round(p.alpha, 3), round(p.a, 3), round(p.b, 3)) == (
        CDNOW_BGNBD_PUBLISHED
    )
    assert model.log_likelihood is not None
    assert round(model.log_likelihood, 1) == CDNOW_BGNBD_LOG_LIKELIHOOD
    assert model.n_customers == CDNOW_CUSTOMERS


def assert_published_cdnow_gamma_gamma(model: GammaGammaModel) -> None:
    """The fitted Gamma-Gamma model has FHL (2005b)'s p and q."""
    p = model.params
    assert (round(p.p, 2), round(p.q, 2)) == CDNOW_GAMMA_GAMMA_PUBLISHED
