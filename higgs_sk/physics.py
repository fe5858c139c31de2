r"""Physics inputs from the 21 low-level HIGGS measurements: four-vectors and masses.

:class:`LorentzFeatures` turns each event's lepton, missing transverse
momentum and four jets into quantities a classifier separates more easily than
the raw detector columns: the event seen from the lepton (so a rotation of the
whole detector does not change it), invariant and transverse masses of object
combinations, a best top-pair reconstruction and angular separations.  It reads
only the low-level columns; the seven high-level masses of the UCI file are
never used, so its output carries no information the physicists added.

Units in the UCI file
---------------------
The UCI columns are rescaled per column, so they cannot be combined into
four-vectors as they are.  The scales below were recovered from the data
themselves (the bundled sample), not assumed:

* **pT**: every transverse momentum was stored as a multiple of 0.01 GeV and
  then divided by the column mean, so ``pT * scale`` lands on the 0.01 GeV grid
  for every event to within 0.003 of a step; the scale is the column mean in
  GeV (:data:`PT_SCALE_GEV`).  The lepton and the jets then all start at the
  same 15.01 GeV, the selection threshold, which confirms the common unit.
* **missing energy**: computed, hence not on any grid.  Its scale, 58.15 GeV,
  makes the neutrino solution below reproduce the file's own ``m_wwbb`` for the
  largest share of events, and agrees (within 0.3 %) with the file's ``m_lv``,
  which equals ``m_T(lepton, MET)`` above the W peak and peaks at 80.4 GeV.
* **eta**: stored in steps of 0.001 and divided by a per-column spread;
  :data:`ETA_SCALE` puts every value back on that grid (lepton :math:`|\eta|
  < 2.5`, jets :math:`|\eta| < 3`).  The standardisation also removed a mean
  below 0.0005 in eta, which is ignored so that a reflection
  :math:`\eta \to -\eta` of the input stays exact.
* **phi**: stored in steps of 0.001 rad and divided by about 1.802, so the
  period is ``2 * 1.7432`` in file units; ``phi_rad = phi * pi / 1.7432``
  (:data:`UCI_PHI_MAX`).  Per-column spreads differ by under 0.1 %, i.e.
  below 0.003 rad, so one scale serves all columns.
* **b-tag**: three levels (0, 1, 2) divided by the column mean;
  :data:`BTAG_UNIT` maps them back to 0, 1, 2.

With these scales the mass of the two b-tagged jets computed here is
proportional to the file's ``m_bb``, to within 0.2 % in 99 % of the events
with two b-tags, and lepton-jet separations start at the isolation cone,
:math:`\Delta R = 0.4`.  (The file's ``m_jj`` and ``m_jjj`` match a
combination of the four jets in only about 60 % of events; the rest must use
jets the file does not list.)

Examples
--------
>>> from higgs_sk import load_sample
>>> from higgs_sk.physics import LorentzFeatures
>>> X, y = load_sample(return_X_y=True, as_frame=True)
>>> F = LorentzFeatures().fit_transform(X)
>>> F.shape, F.dtype
((9000, 66), dtype('float32'))
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .datasets import LOW_LEVEL_FEATURES
from .features import FeatureSelector

__all__ = [
    "LorentzFeatures",
    "PT_SCALE_GEV",
    "ETA_SCALE",
    "UCI_PHI_MAX",
    "BTAG_UNIT",
    "W_MASS_GEV",
    "TOP_MASS_GEV",
]

PT_SCALE_GEV = {
    "lepton": 54.64209,
    "missing_energy": 58.15,
    "jet_1": 109.16171,
    "jet_2": 79.42591,
    "jet_3": 56.94069,
    "jet_4": 41.08343,
}
"""GeV per UCI unit of each transverse momentum column (the column means)."""

ETA_SCALE = {
    "lepton": 1.026727,
    "jet_1": 1.009866,
    "jet_2": 1.029470,
    "jet_3": 1.098601,
    "jet_4": 1.200735,
}
"""Pseudorapidity per UCI unit of each eta column."""

UCI_PHI_MAX = 1.7432
"""The UCI value of phi = pi; phi columns have period ``2 * UCI_PHI_MAX``."""

BTAG_UNIT = {"jet_1": 1.0865381, "jet_2": 1.1074361, "jet_3": 1.2741122, "jet_4": 1.5509807}
"""UCI value of b-tag level 1 in each jet's column (level 2 is twice as large)."""

W_MASS_GEV = 80.4
"""W-boson mass used for the neutrino longitudinal momentum and the top fit."""

TOP_MASS_GEV = 172.5
"""Top-quark mass used in the top-pair fit."""

# Resolutions of the top-pair fit: typical widths of the reconstructed W and top
# peaks at this detector resolution; only their ratios shape the best assignment.
_SIGMA_W = 10.0
_SIGMA_TOP_HAD = 15.0
_SIGMA_TOP_LEP = 20.0

_JETS = ("jet_1", "jet_2", "jet_3", "jet_4")
_IDX = {name: i for i, name in enumerate(LOW_LEVEL_FEATURES)}
_L, _NU = 0, 1  # object slots; jets follow in slots 2..5
_JET_PAIRS = list(combinations(range(4), 2))
_JET_TRIPLES = list(combinations(range(4), 3))
_JET_ORDERS = ("btag", "pt", "input")
_NEUTRINO = ("w_mass", "zero")


def _wrap(phi):
    """Wrap UCI-unit angles into [-UCI_PHI_MAX, UCI_PHI_MAX)."""
    return (phi + UCI_PHI_MAX) % (2 * UCI_PHI_MAX) - UCI_PHI_MAX


def _dphi(a, b):
    """|a - b| for angles in radians, folded into [0, pi]."""
    return np.abs(np.remainder(a - b + np.pi, 2 * np.pi) - np.pi)


def _first_nonzero_sign(*columns):
    """Per event, the sign of the first column that is not zero (+1 if all are).

    Reflections are chosen by a sign; an exact zero (a value on the 0.001 grid)
    must fall through to the next quantity so that the choice, and hence the
    output, does not depend on the sign of the zero.
    """
    sign = np.zeros(len(columns[0]))
    for col in columns:
        sign = np.where(sign == 0, np.sign(col), sign)
    return np.where(sign == 0, 1.0, sign)


class LorentzFeatures(TransformerMixin, BaseEstimator):
    r"""Physics inputs built only from the 21 low-level HIGGS measurements.

    Every event is converted to physical units (GeV, radians, true
    pseudorapidity; see the module docstring for how the UCI scales were
    recovered), the lepton, the four jets and the neutrino are made massless
    four-vectors, and the groups of quantities chosen below are returned.
    All masses use :math:`m^2 = \sum_{a<b} 2\,p_a \cdot p_b` over the objects
    in the combination; for two visible objects
    :math:`m_{ab}^2 = 2 p_{T,a} p_{T,b} (\cosh\Delta\eta - \cos\Delta\phi)`.

    The neutrino has :math:`p_T` = missing energy magnitude and
    :math:`\phi` = missing energy phi.  Its longitudinal momentum is, with
    ``neutrino="w_mass"``, the solution of :math:`m(\ell\nu) = m_W` with the
    smaller :math:`|p_z|`; when there is none (transverse mass above
    :math:`m_W`), the neutrino gets the lepton's rapidity, which makes
    :math:`m(\ell\nu)` equal to the transverse mass, the value closest to
    :math:`m_W` (so :math:`m(\ell\nu) = \max(m_W, m_T)`, as in the file's
    own ``m_lv``); with ``neutrino="zero"``, :math:`p_z = 0`.  The W
    constraint gives the leptonic top and the full system their longitudinal
    boost: 5-fold CV AUC of gradient boosting on the bundled sample rises from
    0.799 to 0.807.

    Parameters
    ----------
    canonical : bool, default=True
        Express the raw kinematics in the lepton's frame: every phi is
        measured from the lepton's phi (so the lepton's phi, always 0, is not
        returned), all eta are negated if the lepton's eta is negative, and all
        phi are negated if the phi of ``j1`` (the first jet in ``jet_order``)
        is negative.  Exact zeros, which occur because the file stores values
        on a 0.001 grid, pass the choice on: to the jets' eta in turn, and to
        the other jets' phi and then the missing energy's.  The
        output is then unchanged by a rotation of the whole event about the
        beam and by a reflection of all eta or all phi.  With ``False`` the
        raw kinematics keep their absolute lab angles.  Masses, angles and the
        fit are invariant either way.
    jet_order : {"btag", "pt", "input"}, default="btag"
        Order of the jets ``j1`` .. ``j4`` in the output: by b-tag level,
        highest first, ties by pT (so ``j1, j2`` are the b-quark candidates of
        both signal and top-pair events and ``j3, j4`` the W-decay jets); by
        pT; or the file's ``jet_1`` .. ``jet_4``.  Ranking by b-tag gives each
        column one physical role: 5-fold CV AUC of gradient boosting on the
        bundled sample is 0.807, against 0.777 by pT and 0.753 in file order.
    keep_raw : bool, default=True
        Return the kinematics, per object: ``lepton_pt``, ``lepton_eta``,
        ``met``, ``met_dphi``, then ``jK_pt``, ``jK_eta``, ``jK_dphi`` and
        ``jK_btag`` (level 0, 1 or 2) for K = 1..4; with ``canonical=False``
        the ``*_dphi`` become ``*_phi`` and ``lepton_phi`` is added.
    masses : bool, default=True
        Invariant masses (GeV): jet pairs ``m_jAjB``, jet triples
        ``m_jAjBjC``, all jets ``m_jjjj``; ``mt_lv`` (transverse mass of lepton
        and missing energy) and ``m_lv``; lepton + jet ``m_ljK``; lepton +
        neutrino + jet ``m_lvjK`` (leptonic top candidates); lepton + neutrino
        + the two first jets ``m_lvj1j2`` (the charged-Higgs candidate
        :math:`W b\bar b` with ``jet_order="btag"``); lepton + all jets
        ``m_ljjjj`` and everything ``m_lvjjjj`` (the :math:`m_{WWbb}` of the
        physicists).  Also scalar sums ``ht`` (jets) and ``st`` (all objects,
        missing energy included) and ``pt_sys``, the magnitude of the vector
        sum of all transverse momenta (the recoil against initial-state
        radiation).
    ttbar : bool, default=True
        Best top-pair reconstruction: over the 12 ways of choosing a leptonic
        b-jet, a hadronic b-jet and two W jets among the four, the one that
        minimises :math:`\chi^2 = ((m_{jj}-m_W)/10)^2 + ((m_{jjb}-m_t)/15)^2
        + ((m_{\ell\nu b}-m_t)/20)^2` (GeV); returns ``ttbar_log_chi2``
        (:math:`\log(1+\chi^2)`), ``ttbar_m_w``, ``ttbar_m_top_had`` and
        ``ttbar_m_top_lep`` of that choice.  Background (top pairs) fits well;
        signal does not.
    angles : bool, default=True
        :math:`\Delta R = \sqrt{\Delta\eta^2 + \Delta\phi^2}` for lepton-jet
        pairs ``dr_ljK`` and jet pairs ``dr_jAjB``, and :math:`|\Delta\phi|`
        between the missing energy and the lepton ``dphi_lv`` and each jet
        ``dphi_vjK``.
    neutrino : {"w_mass", "zero"}, default="w_mass"
        How the neutrino's longitudinal momentum is set (see above).

    Attributes
    ----------
    selector_ : FeatureSelector
        Fitted selector that finds the 21 low-level columns by name in a
        DataFrame (any order; extra columns such as the high-level masses are
        ignored) or by position in an array of 28 (UCI order) or 21 columns.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit``; only set when ``X`` was a DataFrame.
    feature_names_out_ : ndarray of str
        Names of the output columns, as :meth:`get_feature_names_out`.

    See Also
    --------
    higgs_sk.features.FeatureSelector : selects raw feature groups.

    Notes
    -----
    The transformer learns nothing from the data: ``fit`` only checks the
    layout, and every output row is a deterministic function of the same
    input row.  Computation is in float64; the output is float32, which keeps
    masses of up to several TeV to better than 1 MeV and is what neural
    networks train in.

    Examples
    --------
    >>> from higgs_sk import load_sample
    >>> from higgs_sk.physics import LorentzFeatures
    >>> X, y = load_sample(return_X_y=True, as_frame=True)
    >>> lf = LorentzFeatures(keep_raw=False, angles=False).fit(X)
    >>> list(lf.get_feature_names_out()[:3])
    ['m_j1j2', 'm_j1j3', 'm_j1j4']
    >>> # m_j1j2: mass of the two most b-like jets of the first event, in GeV
    >>> round(float(lf.transform(X.head(1))[0, 0]), 1)
    171.1
    """

    def __init__(
        self,
        *,
        canonical=True,
        jet_order="btag",
        keep_raw=True,
        masses=True,
        ttbar=True,
        angles=True,
        neutrino="w_mass",
    ):
        self.canonical = canonical
        self.jet_order = jet_order
        self.keep_raw = keep_raw
        self.masses = masses
        self.ttbar = ttbar
        self.angles = angles
        self.neutrino = neutrino

    def fit(self, X, y=None):
        """Check that ``X`` holds the 21 low-level features and remember its layout.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_events, n_columns)
            A frame with the low-level columns under any common spelling, or
            an array of 28 (UCI order, no label) or 21 (low-level) columns.
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        for attr in ("feature_names_in_",):
            if hasattr(self, attr):
                delattr(self, attr)
        self.selector_ = FeatureSelector("low").fit(X)
        self.n_features_in_ = self.selector_.n_features_in_
        if hasattr(self.selector_, "feature_names_in_"):
            self.feature_names_in_ = self.selector_.feature_names_in_
        self.feature_names_out_ = np.asarray(self._names(), dtype=object)
        return self

    def transform(self, X):
        """Compute the physics features of each event.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_events, n_columns)
            Same layout rules as in :meth:`fit`; a frame may come with its
            columns in another order.

        Returns
        -------
        ndarray of shape (n_events, n_outputs), float32
            Columns named by :meth:`get_feature_names_out`.
        """
        check_is_fitted(self, "selector_")
        self._check_params()
        low = self.selector_.transform(X).astype(np.float64, copy=False)
        columns = self._compute(low)
        out = np.empty((low.shape[0], len(columns)), dtype=np.float32)
        for i, col in enumerate(columns.values()):
            out[:, i] = col
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns.

        Parameters
        ----------
        input_features : ignored
            The outputs are fixed physics quantities; their names do not
            depend on the input's column names.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    # -- internals -----------------------------------------------------------

    def _check_params(self):
        if self.jet_order not in _JET_ORDERS:
            raise ValueError(f"jet_order must be one of {_JET_ORDERS}, got {self.jet_order!r}")
        if self.neutrino not in _NEUTRINO:
            raise ValueError(f"neutrino must be one of {_NEUTRINO}, got {self.neutrino!r}")
        if not (self.keep_raw or self.masses or self.ttbar or self.angles):
            raise ValueError(
                "keep_raw, masses, ttbar and angles are all False: no output would be left"
            )

    def _names(self):
        """Output names, from the parameters alone (the same for every input)."""
        # One tiny synthetic event is enough: _compute builds names and values
        # together, so they can never drift apart.
        event = np.zeros((1, len(LOW_LEVEL_FEATURES)))
        for name in ("lepton_pT", "missing_energy_magnitude", *(f"{j}_pt" for j in _JETS)):
            event[0, _IDX[name]] = 1.0
        return list(self._compute(event))

    def _compute(self, low):
        """Dict name -> float64 column for (n, 21) low-level values in UCI units."""
        col = lambda name: low[:, _IDX[name]]  # noqa: E731
        n = low.shape[0]
        canonical = bool(self.canonical)

        # -- physical units ---------------------------------------------------
        lep_pt = col("lepton_pT") * PT_SCALE_GEV["lepton"]
        lep_eta = col("lepton_eta") * ETA_SCALE["lepton"]
        met = col("missing_energy_magnitude") * PT_SCALE_GEV["missing_energy"]
        jet_pt = np.column_stack([col(f"{j}_pt") * PT_SCALE_GEV[j] for j in _JETS])
        jet_eta = np.column_stack([col(f"{j}_eta") * ETA_SCALE[j] for j in _JETS])
        jet_btag = np.column_stack([np.round(col(f"{j}_btag") / BTAG_UNIT[j], 3) for j in _JETS])

        # Angles are differenced and wrapped in file units, where the period is
        # exact, before the conversion to radians.
        lep_phi_uci = col("lepton_phi")
        ref = lep_phi_uci if canonical else np.zeros(n)
        to_rad = np.pi / UCI_PHI_MAX
        lep_phi = _wrap(lep_phi_uci - ref) * to_rad
        met_phi = _wrap(col("missing_energy_phi") - ref) * to_rad
        jet_phi = np.column_stack([_wrap(col(f"{j}_phi") - ref) for j in _JETS]) * to_rad

        if self.jet_order != "input":
            if self.jet_order == "btag":
                # b-tag first, pT breaks ties: lexsort's last key is the primary one.
                order = np.lexsort((-jet_pt, -jet_btag), axis=1)
            else:
                order = np.argsort(-jet_pt, axis=1, kind="stable")
            take = lambda a: np.take_along_axis(a, order, axis=1)  # noqa: E731
            jet_pt, jet_eta, jet_phi, jet_btag = map(take, (jet_pt, jet_eta, jet_phi, jet_btag))

        if canonical:
            s_eta = _first_nonzero_sign(lep_eta, *jet_eta.T)
            lep_eta, jet_eta = lep_eta * s_eta, jet_eta * s_eta[:, None]
            s_phi = _first_nonzero_sign(*jet_phi.T, met_phi)
            jet_phi, met_phi = jet_phi * s_phi[:, None], met_phi * s_phi

        # -- massless four-vectors: slots lepton, neutrino, j1..j4 -------------
        pt = np.column_stack([lep_pt, met, jet_pt])
        phi = np.column_stack([lep_phi, met_phi, jet_phi])
        px, py = pt * np.cos(phi), pt * np.sin(phi)
        pz = np.column_stack([lep_pt * np.sinh(lep_eta), np.zeros(n), jet_pt * np.sinh(jet_eta)])
        if self.neutrino == "w_mass":
            pz[:, _NU] = self._neutrino_pz(px, py, pz, pt)
        energy = np.sqrt(px**2 + py**2 + pz**2)
        four = np.stack([energy, px, py, pz], axis=-1)  # (n, 6, 4)
        # Minkowski products of every pair.  The squared mass of a combination
        # of massless objects is the sum of its non-negative pair terms, so
        # E^2 - p^2 of a large system, where rounding would cancel badly, is
        # never formed.
        dots = four[..., None, 0] * four[:, None, :, 0] - np.einsum(
            "nai,nbi->nab", four[..., 1:], four[..., 1:]
        )

        def mass(*slots):
            m2 = np.zeros(n)
            for a, b in combinations(slots, 2):
                m2 += 2.0 * dots[:, a, b]
            return np.sqrt(np.maximum(m2, 0.0))

        jets = [2, 3, 4, 5]
        out = {}
        if self.keep_raw:
            out["lepton_pt"] = lep_pt
            out["lepton_eta"] = lep_eta
            if not canonical:
                out["lepton_phi"] = lep_phi
            out["met"] = met
            out["met_dphi" if canonical else "met_phi"] = met_phi
            for k in range(4):
                out[f"j{k + 1}_pt"] = jet_pt[:, k]
                out[f"j{k + 1}_eta"] = jet_eta[:, k]
                out[f"j{k + 1}_dphi" if canonical else f"j{k + 1}_phi"] = jet_phi[:, k]
                out[f"j{k + 1}_btag"] = jet_btag[:, k]
        if self.masses:
            for a, b in _JET_PAIRS:
                out[f"m_j{a + 1}j{b + 1}"] = mass(jets[a], jets[b])
            for a, b, c in _JET_TRIPLES:
                out[f"m_j{a + 1}j{b + 1}j{c + 1}"] = mass(jets[a], jets[b], jets[c])
            out["m_jjjj"] = mass(*jets)
            cos_lv = np.cos(met_phi - lep_phi)
            out["mt_lv"] = np.sqrt(np.maximum(2.0 * lep_pt * met * (1.0 - cos_lv), 0.0))
            out["m_lv"] = mass(_L, _NU)
            for k in range(4):
                out[f"m_lj{k + 1}"] = mass(_L, jets[k])
            for k in range(4):
                out[f"m_lvj{k + 1}"] = mass(_L, _NU, jets[k])
            out["m_lvj1j2"] = mass(_L, _NU, jets[0], jets[1])
            out["m_ljjjj"] = mass(_L, *jets)
            out["m_lvjjjj"] = mass(_L, _NU, *jets)
            out["ht"] = jet_pt.sum(axis=1)
            out["st"] = pt.sum(axis=1)
            out["pt_sys"] = np.hypot(px.sum(axis=1), py.sum(axis=1))
        if self.ttbar:
            out.update(self._ttbar_fit(mass, jets, n))
        if self.angles:
            for k in range(4):
                d_phi = _dphi(lep_phi, jet_phi[:, k])
                out[f"dr_lj{k + 1}"] = np.hypot(lep_eta - jet_eta[:, k], d_phi)
            for a, b in _JET_PAIRS:
                d_phi = _dphi(jet_phi[:, a], jet_phi[:, b])
                out[f"dr_j{a + 1}j{b + 1}"] = np.hypot(jet_eta[:, a] - jet_eta[:, b], d_phi)
            out["dphi_lv"] = _dphi(lep_phi, met_phi)
            for k in range(4):
                out[f"dphi_vj{k + 1}"] = _dphi(met_phi, jet_phi[:, k])
        return out

    @staticmethod
    def _neutrino_pz(px, py, pz, pt):
        """Neutrino pz that brings m(lepton, neutrino) closest to m_W.

        Two solutions of m = m_W: the smaller |pz|.  None (the transverse mass
        already exceeds m_W): the neutrino takes the lepton's rapidity, which
        minimises m(lepton, neutrino) to exactly the transverse mass and joins
        the two-solution branch continuously where they meet.
        """
        lep_pt2 = pt[:, _L] ** 2
        lep_e2 = lep_pt2 + pz[:, _L] ** 2
        mu = 0.5 * W_MASS_GEV**2 + px[:, _L] * px[:, _NU] + py[:, _L] * py[:, _NU]
        centre = mu * pz[:, _L] / lep_pt2
        disc = centre**2 - (lep_e2 * pt[:, _NU] ** 2 - mu**2) / lep_pt2
        root = np.sqrt(np.maximum(disc, 0.0))
        two = np.where(centre >= 0, centre - root, centre + root)
        same_rapidity = pt[:, _NU] * pz[:, _L] / pt[:, _L]
        return np.where(disc >= 0, two, same_rapidity)

    @staticmethod
    def _ttbar_fit(mass, jets, n):
        best = np.full(n, np.inf)
        fit = {k: np.zeros(n) for k in ("m_w", "m_top_had", "m_top_lep")}
        for b_lep in range(4):
            for b_had in range(4):
                if b_had == b_lep:
                    continue
                w1, w2 = (jets[k] for k in range(4) if k not in (b_lep, b_had))
                m_w = mass(w1, w2)
                m_had = mass(w1, w2, jets[b_had])
                m_lep = mass(_L, _NU, jets[b_lep])
                chi2 = (
                    ((m_w - W_MASS_GEV) / _SIGMA_W) ** 2
                    + ((m_had - TOP_MASS_GEV) / _SIGMA_TOP_HAD) ** 2
                    + ((m_lep - TOP_MASS_GEV) / _SIGMA_TOP_LEP) ** 2
                )
                better = chi2 < best  # strict: the first of equal fits wins, deterministically
                best = np.where(better, chi2, best)
                for key, value in (("m_w", m_w), ("m_top_had", m_had), ("m_top_lep", m_lep)):
                    fit[key] = np.where(better, value, fit[key])
        return {
            "ttbar_log_chi2": np.log1p(best),
            "ttbar_m_w": fit["m_w"],
            "ttbar_m_top_had": fit["m_top_had"],
            "ttbar_m_top_lep": fit["m_top_lep"],
        }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
