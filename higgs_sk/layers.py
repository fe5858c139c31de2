"""Keras layers of the classifier: a parameter-efficient ensemble and input embeddings.

Ensemble
    A single MLP trained on :math:`10^4` events is noisy: another seed or
    another early-stopping split moves its AUC by about 0.01.  Averaging
    several networks removes much of that noise, but training them one after
    another multiplies the training time.  Following TabM-mini (Gorishniy,
    Kotelnikov and Babenko, *TabM: Advancing Tabular Deep Learning with
    Parameter-Efficient Ensembling*, ICLR 2025), ``k`` members share every
    hidden layer and differ only in

    * :class:`MemberScale`, a per-member multiplier on each input, initialised
      to random signs, so that each member sees the event through its own
      fixed-then-learned re-weighting, and
    * :class:`MemberHeads`, a per-member output unit.

    Each member gets its own loss (:func:`member_binary_crossentropy`
    averages the members' cross-entropies rather than taking the
    cross-entropy of their average), which keeps them diverse; the
    ensemble's prediction is the mean of the members' signal probabilities.
    The hidden layers run on a ``(batch, k, units)`` tensor, so all members
    train in the same matrix products.

Embeddings
    :class:`PeriodicEmbedding` maps every input to learned sines and cosines
    followed by a small per-input linear layer;
    :class:`PiecewiseLinearEmbedding` encodes it as fixed ramps between
    normal quantiles.  ``HiggsClassifier(embedding=("periodic", "ple"))``
    trains one network on each, side by side, and averages them.

What each buys on the bundled sample is measured in docs/performance.md
(``bench/tune_small_sample.py --physics --network``).

Examples
--------
>>> import numpy as np
>>> import keras
>>> from higgs_sk.layers import MemberHeads, MemberScale
>>> x = keras.Input(shape=(3,))
>>> h = keras.layers.Dense(4, activation="silu")(MemberScale(5, seed=0)(x))
>>> model = keras.Model(x, MemberHeads(5, seed=0)(h))
>>> model(np.ones((2, 3), "float32")).shape
TensorShape([2, 5])
"""

from __future__ import annotations

import math

import keras
from keras import ops

__all__ = [
    "PeriodicEmbedding",
    "PiecewiseLinearEmbedding",
    "MemberScale",
    "MemberHeads",
    "member_binary_crossentropy",
    "member_mean_accuracy",
]


@keras.saving.register_keras_serializable(package="higgs_sk")
class PeriodicEmbedding(keras.layers.Layer):
    r"""Embed every scalar input in its own learned periodic basis.

    Each input :math:`x_j` becomes
    :math:`\mathrm{ReLU}(W_j [\cos 2\pi c_j x_j, \sin 2\pi c_j x_j] + b_j)`,
    with its own frequencies :math:`c_j` (``n_frequencies`` of them,
    initialised from :math:`N(0, \sigma^2)`, ``sigma = frequency_scale``) and
    its own linear map to ``embedding_dim`` numbers: the "PLR" embedding of
    Gorishniy, Rubachev and Babenko, *On Embeddings for Numerical Features in
    Tabular Deep Learning* (NeurIPS 2022), where it gave the best MLP on their
    HIGGS subset.  A narrow mass peak or a b-tag level is then a few
    frequencies away rather than something the first dense layer must carve
    out of one number.  Inputs should be roughly unit-scaled (the physics
    pipeline uses a normal-output quantile transform): ``frequency_scale`` is
    in cycles per unit of input.

    ``(batch, n_features) -> (batch, n_features * embedding_dim)``.

    Parameters
    ----------
    n_frequencies : int, default=48
    frequency_scale : float, default=0.05
        Standard deviation of the initial frequencies.  With the physics
        inputs, 0.03, 0.05 and 0.1 gave the same CV AUC (0.800) and 1.0 a
        much worse one (0.771: the network fits noise).
    embedding_dim : int, default=24
    seed : int, optional
        Seeds the initial frequencies and linear maps.

    Examples
    --------
    >>> import numpy as np
    >>> emb = PeriodicEmbedding(n_frequencies=4, embedding_dim=3, seed=0)
    >>> emb(np.zeros((2, 5), "float32")).shape
    TensorShape([2, 15])
    """

    def __init__(self, n_frequencies=48, frequency_scale=0.05, embedding_dim=24, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.n_frequencies = int(n_frequencies)
        self.frequency_scale = float(frequency_scale)
        self.embedding_dim = int(embedding_dim)
        self.seed = seed

    def _seed(self, offset):
        return None if self.seed is None else int(self.seed) + offset

    def build(self, input_shape):
        n, k, d = int(input_shape[-1]), self.n_frequencies, self.embedding_dim
        self.frequencies = self.add_weight(
            name="frequencies", shape=(n, k),
            initializer=keras.initializers.RandomNormal(0.0, self.frequency_scale,
                                                        seed=self._seed(0)),
        )
        # PyTorch's Linear initialisation, as in the paper: U(+-1/sqrt(fan_in)).
        limit = (2 * k) ** -0.5
        self.kernel = self.add_weight(
            name="kernel", shape=(n, 2 * k, d),
            initializer=keras.initializers.RandomUniform(-limit, limit, seed=self._seed(1)),
        )
        self.bias = self.add_weight(
            name="bias", shape=(n, d),
            initializer=keras.initializers.RandomUniform(-limit, limit, seed=self._seed(2)),
        )

    def call(self, inputs):
        angle = (2.0 * math.pi) * ops.expand_dims(inputs, -1) * self.frequencies
        basis = ops.concatenate([ops.cos(angle), ops.sin(angle)], axis=-1)
        embedded = ops.relu(ops.einsum("bnk,nkd->bnd", basis, self.kernel) + self.bias)
        return ops.reshape(embedded, (-1, ops.shape(inputs)[-1] * self.embedding_dim))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], int(input_shape[-1]) * self.embedding_dim)

    def get_config(self):
        return {**super().get_config(), "n_frequencies": self.n_frequencies,
                "frequency_scale": self.frequency_scale, "embedding_dim": self.embedding_dim,
                "seed": self.seed}


@keras.saving.register_keras_serializable(package="higgs_sk")
class PiecewiseLinearEmbedding(keras.layers.Layer):
    r"""Piecewise-linear encoding of normal-scaled inputs, inside the network.

    Each input becomes ``n_bins`` ramps, 0 below its bin, 1 above and linear
    inside, as :class:`~higgs_sk.encoding.PiecewiseLinearEncoder` does.  The
    bin edges are the quantiles :math:`\Phi^{-1}(k / n_\mathrm{bins})` of the
    standard normal distribution (the outer two at :math:`\pm` ``bound``), so
    on the output of ``QuantileTransformer(output_distribution="normal")``
    every bin holds an equal share of the training events, as the encoder's
    quantile bins do, without the layer having to see the data.  It has no
    weights; it lets a network that shares its input with a
    :class:`PeriodicEmbedding` network see the same events binned instead.

    ``(batch, n_features) -> (batch, n_features * n_bins)``.

    Parameters
    ----------
    n_bins : int, default=8
    bound : float, default=5.2
        Outer edges; scikit-learn's normal quantile transform clips at about
        :math:`\pm 5.2`.

    Examples
    --------
    >>> import numpy as np
    >>> ple = PiecewiseLinearEmbedding(n_bins=2)
    >>> ple(np.array([[-5.2], [-2.6], [0.0], [5.2]], "float32")).numpy().tolist()
    [[0.0, 0.0], [0.5, 0.0], [1.0, 0.0], [1.0, 1.0]]
    """

    def __init__(self, n_bins=8, bound=5.2, **kwargs):
        super().__init__(**kwargs)
        self.n_bins = int(n_bins)
        self.bound = float(bound)
        if self.n_bins < 2 or not self.bound > 0:
            raise ValueError(f"n_bins must be >= 2 and bound positive, got {n_bins!r}, {bound!r}")
        from statistics import NormalDist

        inner = [NormalDist().inv_cdf(k / self.n_bins) for k in range(1, self.n_bins)]
        edges = [-self.bound] + inner + [self.bound]
        self._low = [float(e) for e in edges[:-1]]
        self._width = [float(b - a) for a, b in zip(edges[:-1], edges[1:])]

    def call(self, inputs):
        low = ops.convert_to_tensor(self._low, dtype=inputs.dtype)
        width = ops.convert_to_tensor(self._width, dtype=inputs.dtype)
        ramps = ops.clip((ops.expand_dims(inputs, -1) - low) / width, 0.0, 1.0)
        return ops.reshape(ramps, (-1, ops.shape(inputs)[-1] * self.n_bins))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], int(input_shape[-1]) * self.n_bins)

    def get_config(self):
        return {**super().get_config(), "n_bins": self.n_bins, "bound": self.bound}


@keras.saving.register_keras_serializable(package="higgs_sk")
class MemberScale(keras.layers.Layer):
    """Copy each event to ``n_members`` members, each scaling the inputs its own way.

    ``(batch, n_features) -> (batch, n_members, n_features)``; member ``i``
    gets ``x * r_i`` with a learned ``r_i`` initialised to random signs.

    Parameters
    ----------
    n_members : int
    seed : int, optional
        Seeds the initial signs.

    Examples
    --------
    >>> import numpy as np
    >>> MemberScale(4, seed=0)(np.ones((2, 3), "float32")).shape
    TensorShape([2, 4, 3])
    """

    def __init__(self, n_members, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.n_members = int(n_members)
        self.seed = seed

    def build(self, input_shape):
        uniform = keras.initializers.RandomUniform(-1.0, 1.0, seed=self.seed)

        def random_signs(shape, dtype=None):
            return ops.where(uniform(shape, dtype=dtype) >= 0.0, 1.0, -1.0)

        self.scale = self.add_weight(
            name="scale", shape=(self.n_members, int(input_shape[-1])), initializer=random_signs
        )

    def call(self, inputs):
        return ops.expand_dims(inputs, 1) * self.scale

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_members, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "n_members": self.n_members, "seed": self.seed}


@keras.saving.register_keras_serializable(package="higgs_sk")
class MemberHeads(keras.layers.Layer):
    """One sigmoid output unit per member.

    ``(batch, n_members, units) -> (batch, n_members)`` signal probabilities.

    Parameters
    ----------
    n_members : int
    seed : int, optional
        Seeds the Glorot-uniform weights (fan-in ``units``, fan-out 1, as a
        ``Dense(1)`` head).

    Examples
    --------
    >>> import numpy as np
    >>> MemberHeads(4, seed=0)(np.zeros((2, 4, 3), "float32")).numpy().tolist()
    [[0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5]]
    """

    def __init__(self, n_members, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.n_members = int(n_members)
        self.seed = seed

    def build(self, input_shape):
        units = int(input_shape[-1])
        limit = (6.0 / (units + 1)) ** 0.5
        self.kernel = self.add_weight(
            name="kernel", shape=(self.n_members, units),
            initializer=keras.initializers.RandomUniform(-limit, limit, seed=self.seed),
        )
        self.bias = self.add_weight(name="bias", shape=(self.n_members,), initializer="zeros")

    def call(self, inputs):
        return ops.sigmoid(ops.sum(inputs * self.kernel, axis=-1) + self.bias)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_members)

    def get_config(self):
        return {**super().get_config(), "n_members": self.n_members, "seed": self.seed}


@keras.saving.register_keras_serializable(package="higgs_sk")
def member_binary_crossentropy(y_true, y_pred):
    """Mean over members of each member's binary cross-entropy.

    Parameters
    ----------
    y_true : tensor of shape (batch,) or (batch, 1)
    y_pred : tensor of shape (batch, n_members)
        Signal probabilities.

    Returns
    -------
    tensor of shape (batch,)

    Examples
    --------
    >>> import numpy as np
    >>> loss = member_binary_crossentropy(np.array([1.0, 0.0]), np.array([[0.5, 0.5], [0.5, 0.5]]))
    >>> np.round(np.asarray(loss), 4).tolist()
    [0.6931, 0.6931]
    """
    y_pred = ops.convert_to_tensor(y_pred)
    # Labels arrive as (batch,) or (batch, 1); every member is scored on them.
    targets = ops.broadcast_to(ops.reshape(ops.cast(y_true, y_pred.dtype), (-1, 1)),
                               ops.shape(y_pred))
    return ops.mean(ops.binary_crossentropy(targets, y_pred), axis=-1)


@keras.saving.register_keras_serializable(package="higgs_sk")
def member_mean_accuracy(y_true, y_pred):
    """Accuracy of the ensemble: the members' mean probability cut at 0.5.

    Parameters
    ----------
    y_true : tensor of shape (batch,) or (batch, 1)
    y_pred : tensor of shape (batch, n_members)

    Returns
    -------
    tensor of shape (batch,)
        1.0 where the ensemble is right.

    Examples
    --------
    >>> import numpy as np
    >>> acc = member_mean_accuracy(np.array([1, 0]), np.array([[0.9, 0.2], [0.9, 0.2]]))
    >>> np.asarray(acc).tolist()
    [1.0, 0.0]
    """
    y_pred = ops.convert_to_tensor(y_pred)
    mean = ops.mean(y_pred, axis=-1)
    y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), (-1,))
    return ops.cast(ops.equal(ops.cast(mean > 0.5, y_pred.dtype), y_true), y_pred.dtype)
