"""The Keras MLP classifier, a scikeras ``KerasClassifier`` that scikit-learn accepts.

scikeras 0.13 (its last release) declares ``KerasClassifier(BaseWrapper,
ClassifierMixin)``, so with scikit-learn >= 1.6 ``BaseEstimator.__sklearn_tags__``
wins the method order and the wrapper is not seen as a classifier:
``cross_val_score(..., scoring="roc_auc")`` returns NaN, ``cv=5`` is not
stratified and ``GridSearchCV`` silently returns its first candidate.
:class:`HiggsClassifier` sets the tags right, exposes the network as plain
parameters, validates labels, draws a stratified early-stopping split from the
training data and predicts in large batches.

Examples
--------
>>> from higgs_sk import HiggsClassifier, load_sample
>>> from sklearn.base import is_classifier
>>> is_classifier(HiggsClassifier())
True
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import os
import random
from collections import defaultdict

# TensorFlow logs C++ chatter (even harmless "ERROR" lines about tf.data graph
# attributes on every fit); keep it quiet unless the user asked for it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from scikeras.wrappers import KerasClassifier  # noqa: E402
from sklearn.base import BaseEstimator, ClassifierMixin  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.utils import compute_sample_weight  # noqa: E402
from sklearn.utils._tags import ClassifierTags  # noqa: E402
from sklearn.utils.validation import _check_sample_weight, check_array, check_is_fitted  # noqa: E402

from .layers import (  # noqa: E402
    MemberHeads,
    MemberScale,
    PeriodicEmbedding,
    PiecewiseLinearEmbedding,
    member_binary_crossentropy,
    member_mean_accuracy,
)
from .validation import check_binary_labels  # noqa: E402

__all__ = ["HiggsClassifier", "build_mlp", "cosine_learning_rate", "seeded"]

_PREDICT_BATCH = 65536


class _DropRetracingNotice(logging.Filter):
    # Every fitted model owns one compiled forward graph; during cross-validation
    # TensorFlow counts these as "retracing" and warns, although nothing is wrong.
    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


logging.getLogger("tensorflow").addFilter(_DropRetracingNotice())


@contextlib.contextmanager
def seeded(seed):
    """Seed Python, NumPy, TensorFlow and Keras and enable op determinism, then restore.

    scikeras' own ``tensorflow_random_state`` sets ``TF_DETERMINISTIC_OPS``
    before asking whether determinism was already on, so it never switches it
    off again, and every later unseeded Keras model in the process fails with
    "Random ops require a seed".  This version restores everything it changed.

    Parameters
    ----------
    seed : int or None
        ``None`` does nothing.

    Examples
    --------
    >>> from tensorflow.python.framework import config
    >>> with seeded(0):
    ...     inside = config.is_op_determinism_enabled()
    >>> inside, config.is_op_determinism_enabled()
    (True, False)
    """
    if seed is None:
        yield
        return
    import tensorflow as tf
    from tensorflow.python.eager import context
    from tensorflow.python.framework import config as tf_config

    was_deterministic = tf_config.is_op_determinism_enabled()
    py_state, np_state = random.getstate(), np.random.get_state()
    tf_seed = context.global_seed()
    try:
        keras.utils.set_random_seed(int(seed))
        tf_config.enable_op_determinism()
        yield
    finally:
        if not was_deterministic:
            tf_config.disable_op_determinism()
        random.setstate(py_state)
        np.random.set_state(np_state)
        tf.random.set_seed(tf_seed)


def cosine_learning_rate(learning_rate, epoch, epochs):
    """Step size of cosine annealing at 0-based ``epoch`` of ``epochs``.

    Parameters
    ----------
    learning_rate : float
        The step size of the first epoch.
    epoch, epochs : int
        Epochs at or after ``epochs`` keep the last epoch's (smallest) value.

    Returns
    -------
    float

    Examples
    --------
    >>> [round(cosine_learning_rate(1.0, e, 4), 3) for e in range(5)]
    [1.0, 0.854, 0.5, 0.146, 0.146]
    """
    epoch = min(int(epoch), int(epochs) - 1)
    return float(learning_rate) * 0.5 * (1.0 + math.cos(math.pi * epoch / int(epochs)))


_EMBEDDINGS = (None, "periodic", "ple")


def _derived_seed(seed, offset):
    """One seed per random layer, all reproducible from the model's ``seed``."""
    return None if seed is None else int(seed) * 7919 + offset


def build_mlp(
    n_features,
    hidden_layer_sizes=(64, 64, 64, 32),
    activation="relu",
    dropout=0.2,
    learning_rate=1e-3,
    weight_decay=0.0,
    n_members=1,
    embedding=None,
    n_frequencies=48,
    frequency_scale=0.05,
    embedding_dim=24,
    seed=None,
):
    """Build and compile the binary-classification MLP.

    Dropout follows every hidden layer but the last, which reproduces the
    original analysis for the default sizes: 21→64→64→64→32→1 with dropout
    after the first three hidden layers, adam, binary cross-entropy.  With
    ``n_members > 1`` the network is a parameter-efficient ensemble
    (:mod:`higgs_sk.layers`): the members share the hidden layers, each has
    its own input scaling and output unit and its own loss, and the output
    has one signal probability per member.  With a tuple of embeddings the
    model holds one such network per entry, side by side with no shared
    weights, each with its own output and loss, trained in one pass over
    the data.

    Parameters
    ----------
    n_features : int
    hidden_layer_sizes : tuple of int
    activation : str
    dropout : float
    learning_rate : float
    weight_decay : float
        Decoupled weight decay; ``> 0`` switches Adam to AdamW.
    n_members : int, default=1
        Ensemble members; 1 is a plain MLP with a single output.
    embedding : {None, "periodic", "ple"} or tuple of them, default=None
        ``"periodic"`` puts a :class:`~higgs_sk.layers.PeriodicEmbedding`
        of every input in front of the hidden layers, ``"ple"`` a
        :class:`~higgs_sk.layers.PiecewiseLinearEmbedding`; a tuple builds
        one network per entry (``("periodic", "ple")``: two networks).
    n_frequencies, frequency_scale, embedding_dim
        The periodic embedding's settings; ignored without it.
    seed : int, optional
        Seeds every initializer and dropout layer explicitly, so the network
        does not depend on global random state that other threads (a Dask
        worker's event loop, say) may draw from concurrently.

    Returns
    -------
    keras.Model
        Compiled; output of shape ``(batch, n_members)`` or
        ``(batch, len(embedding))``, the signal probability of each member
        or network (their mean is the prediction).

    Examples
    --------
    >>> build_mlp(21).count_params()
    11841
    >>> build_mlp(21, n_members=4).output.shape
    (None, 4)
    >>> build_mlp(21, embedding="periodic", embedding_dim=8).get_layer("dense_0").input.shape
    (None, 168)
    >>> build_mlp(21, embedding=("periodic", "ple")).output.shape
    (None, 2)
    """
    sizes = tuple(int(u) for u in hidden_layer_sizes)
    if not sizes or min(sizes) < 1:
        raise ValueError(f"hidden_layer_sizes must be positive ints, got {hidden_layer_sizes!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if not weight_decay >= 0.0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    if int(n_members) != n_members or n_members < 1:
        raise ValueError(f"n_members must be a positive int, got {n_members!r}")
    n_members = int(n_members)
    towers = tuple(embedding) if isinstance(embedding, (tuple, list)) else (embedding,)
    if not towers or any(e not in _EMBEDDINGS for e in towers):
        raise ValueError(
            f"embedding must be None, 'periodic', 'ple' or a tuple of them, got {embedding!r}"
        )
    if len(towers) > 1 and n_members > 1:
        raise ValueError("n_members > 1 cannot be combined with a tuple of embeddings")
    if "periodic" in towers and (min(n_frequencies, embedding_dim) < 1
                                 or not frequency_scale > 0):
        raise ValueError(
            "n_frequencies and embedding_dim must be positive ints and frequency_scale "
            f"positive, got {n_frequencies!r}, {embedding_dim!r}, {frequency_scale!r}"
        )
    inputs = keras.Input(shape=(int(n_features),), name="features")

    def hidden(x, kind, seed, prefix):
        # One network: embedding, members' input scaling, the hidden layers.
        if kind == "periodic":
            x = PeriodicEmbedding(n_frequencies, frequency_scale, embedding_dim,
                                  seed=_derived_seed(seed, 3000),
                                  name=f"{prefix}periodic_embedding")(x)
        elif kind == "ple":
            x = PiecewiseLinearEmbedding(name=f"{prefix}ple_embedding")(x)
        if n_members > 1:
            x = MemberScale(n_members, seed=_derived_seed(seed, 2000), name="member_scale")(x)
        for i, units in enumerate(sizes):
            x = keras.layers.Dense(units, activation=activation, kernel_initializer=init(seed, i),
                                   name=f"{prefix}dense_{i}")(x)
            if dropout and i < len(sizes) - 1:
                x = keras.layers.Dropout(dropout, seed=_derived_seed(seed, 1000 + i),
                                         name=f"{prefix}dropout_{i}")(x)
        return x

    def init(seed, i):
        if seed is None:
            return "glorot_uniform"
        return keras.initializers.GlorotUniform(seed=_derived_seed(seed, i))

    if len(towers) == 1:
        x = hidden(inputs, towers[0], seed, "")
        if n_members > 1:
            outputs = MemberHeads(n_members, seed=_derived_seed(seed, 2000),
                                  name="signal_probability")(x)
        else:
            outputs = keras.layers.Dense(1, activation="sigmoid",
                                         kernel_initializer=init(seed, len(sizes)),
                                         name="signal_probability")(x)
    else:
        heads = []
        for t, kind in enumerate(towers):
            tower_seed = None if seed is None else int(seed) * 31 + t
            x = hidden(inputs, kind, tower_seed, f"tower_{t}_")
            heads.append(keras.layers.Dense(1, activation="sigmoid",
                                            kernel_initializer=init(tower_seed, len(sizes)),
                                            name=f"tower_{t}_output")(x))
        outputs = keras.layers.Concatenate(name="signal_probability")(heads)
    if n_members > 1 or len(towers) > 1:
        loss = member_binary_crossentropy
        metrics = [keras.metrics.MeanMetricWrapper(member_mean_accuracy, name="accuracy")]
    else:
        loss, metrics = "binary_crossentropy", ["accuracy"]
    model = keras.Model(inputs, outputs, name="higgs_mlp")
    if weight_decay:
        opt = keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)
    else:
        opt = keras.optimizers.Adam(learning_rate=learning_rate)
    model.compile(optimizer=opt, loss=loss, metrics=metrics)
    return model


class HiggsClassifier(KerasClassifier):
    """Keras MLP for signal (1) vs background (0), a full scikit-learn classifier.

    Built on scikeras' ``KerasClassifier``; the network is described by plain
    parameters so ``GridSearchCV`` can tune ``hidden_layer_sizes`` or
    ``learning_rate`` directly.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(64, 64, 64, 32)
        Units per hidden layer; the default is the original analysis' network.
    activation : str, default="silu"
        Keras activation of the hidden layers.  The original analysis used
        ``"relu"``; SiLU (``x * sigmoid(x)``) gave a higher 5-fold CV AUC on
        the bundled 9,000 events with every seed tried (0.6459 vs 0.6399,
        mean of seeds 0-2; ``bench/bench_quality.py`` and docs/performance.md).
    dropout : float, default=0.2
        Dropout rate after every hidden layer but the last.
    learning_rate : float, default=3e-3
        Adam's step size; larger than Keras' 1e-3 to go with the larger batch.
    learning_rate_schedule : {"constant", "cosine"}, default="constant"
        ``"cosine"`` anneals the step size epoch by epoch from
        ``learning_rate`` towards 0 at epoch ``epochs``
        (:func:`cosine_learning_rate`).  With ``early_stopping=False`` the
        network then trains a fixed budget on every training event instead of
        holding some out; for one periodic network on the physics inputs
        that raised the 5-fold CV AUC on the bundled sample from 0.798
        (mean of seeds 0-4, early stopping) to 0.804 (seeds 0-2, 25
        epochs; docs/performance.md).
    weight_decay : float, default=0.0
        Decoupled weight decay (AdamW) when positive.
    n_members : int, default=1
        Train a parameter-efficient ensemble of this many networks that share
        their hidden layers (TabM-mini, :mod:`higgs_sk.layers`) and predict
        their mean signal probability.  Costs about ``n_members`` times the
        hidden layers' arithmetic, less than training that many networks.
    embedding : {None, "periodic", "ple"} or tuple of them, default=None
        ``"periodic"`` embeds every input in learned sines and cosines
        (:class:`~higgs_sk.layers.PeriodicEmbedding`) before the hidden
        layers; ``"ple"`` encodes it as ramps between normal quantiles
        (:class:`~higgs_sk.layers.PiecewiseLinearEmbedding`).  Both expect
        normal-scaled inputs (``QuantileTransformer(output_distribution=
        "normal")``).  A tuple trains one network per entry side by side, no
        weights shared, and predicts their mean probability; the physics
        pipeline's ``("periodic", "ple")`` beat either network alone.
    n_frequencies : int, default=48
    frequency_scale : float, default=0.05
    embedding_dim : int, default=24
        Settings of the periodic embedding, ignored without it.
    batch_size : int, default=1024
        The original analysis used 32, which made training slow (about 10k
        events/s on two cores, where per-step overhead dominates this small
        network); 1024 runs ~10x the events/s.  With ``learning_rate=3e-3``
        it matched the best small-sample setting in a 5-fold grid search on
        the bundled 9,000 events (CV AUC 0.648 vs 0.647 for batch 256 at
        1e-3, at about half the training time; ``bench/tune_small_sample.py``).
    epochs : int, default=100
        Upper bound; early stopping usually ends training far sooner.
    early_stopping : bool, default=True
        Stop when the validation loss has not improved for ``patience``
        epochs and restore the best weights.
    patience : int, default=10
    validation_fraction : float, default=0.15
        Share of the training events held out for early stopping; drawn
        inside ``fit``, stratified and shuffled with ``random_state``.
    class_weight : dict, "balanced" or None, default=None
        Multiplies ``sample_weight`` like scikit-learn's classifiers.
    random_state : int or None, default=None
        Seeds weight initialisation, shuffling, dropout and the validation
        split; the same integer gives bit-identical predictions.
    verbose : int, default=0
        Keras' verbosity during ``fit``.
    callbacks : list of keras.callbacks.Callback, optional
        Extra Keras callbacks for training.  Callbacks may also be passed to
        ``fit(..., callbacks=[...])`` (or ``Pipeline.fit(..., clf__callbacks=...)``).

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        ``[0, 1]``.
    model_ : keras.Model
        The trained network.
    history_ : dict of list
        Per-epoch ``loss``, ``accuracy`` and, with early stopping,
        ``val_loss``, ``val_accuracy``.
    n_epochs_ : int
        Epochs actually run.
    n_validation_events_ : int
        Training events held out for early stopping (0 without it).
    best_epoch_ : int or None
        1-based epoch whose weights were kept by early stopping.
    n_features_in_ : int

    Examples
    --------
    >>> from higgs_sk import HiggsClassifier, load_sample
    >>> from sklearn.preprocessing import StandardScaler
    >>> X, y = load_sample(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X[:, :21])
    >>> clf = HiggsClassifier(epochs=2, random_state=0).fit(X, y)  # doctest: +SKIP
    >>> clf.predict_proba(X[:3]).shape                               # doctest: +SKIP
    (3, 2)
    """

    # scikeras reads these as attributes.  As class attributes they are fixed
    # design choices, not estimator parameters, so get_params/clone stay clean.
    model = None
    build_fn = None
    warm_start = False
    optimizer = "adam"
    loss = "binary_crossentropy"
    metrics = None
    validation_batch_size = None
    validation_split = 0.0
    shuffle = True
    run_eagerly = False

    def __init__(
        self,
        hidden_layer_sizes=(64, 64, 64, 32),
        activation="silu",
        dropout=0.2,
        learning_rate=3e-3,
        learning_rate_schedule="constant",
        weight_decay=0.0,
        n_members=1,
        embedding=None,
        n_frequencies=48,
        frequency_scale=0.05,
        embedding_dim=24,
        batch_size=1024,
        epochs=100,
        early_stopping=True,
        patience=10,
        validation_fraction=0.15,
        class_weight=None,
        random_state=None,
        verbose=0,
        callbacks=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.learning_rate_schedule = learning_rate_schedule
        self.weight_decay = weight_decay
        self.n_members = n_members
        self.embedding = embedding
        self.n_frequencies = n_frequencies
        self.frequency_scale = frequency_scale
        self.embedding_dim = embedding_dim
        self.batch_size = batch_size
        self.epochs = epochs
        self.early_stopping = early_stopping
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.class_weight = class_weight
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks

    # -- scikit-learn protocol -------------------------------------------------

    @classmethod
    def _get_param_names(cls):
        # scikeras lists every public attribute; scikit-learn's rule is the
        # __init__ signature, which keeps fitted state out of get_params.
        sig = inspect.signature(cls.__init__)
        return sorted(p for p in sig.parameters if p != "self")

    def __sklearn_tags__(self):
        tags = BaseEstimator.__sklearn_tags__(self)
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags(multi_class=False)
        tags.target_tags.required = True
        tags.non_deterministic = self.random_state is None
        return tags

    __repr__ = BaseEstimator.__repr__
    score = ClassifierMixin.score  # accuracy: higher is better, never the loss

    def _more_tags(self):  # pragma: no cover - pre-1.6 scikit-learn only
        return {"binary_only": True, "requires_y": True}

    # -- training ----------------------------------------------------------------

    def _keras_build_fn(self, meta):
        return build_mlp(
            meta["n_features_in_"],
            hidden_layer_sizes=self.hidden_layer_sizes,
            activation=self.activation,
            dropout=self.dropout,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            n_members=self.n_members,
            embedding=self.embedding,
            n_frequencies=self.n_frequencies,
            frequency_scale=self.frequency_scale,
            embedding_dim=self.embedding_dim,
            seed=self._random_state,
        )

    def _build_keras_model(self):
        # Replaces scikeras' version to seed with `seeded`, which restores global state.
        with seeded(self._random_state):
            return self._keras_build_fn({"n_features_in_": self.n_features_in_})

    def fit(self, X, y, sample_weight=None, callbacks=None):
        """Train a fresh network on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_events, n_features)
            Scaled features (the pipeline's scaler does this).
        y : array-like of shape (n_events,) or (n_events, 1)
            0/1, 0.0/1.0 or bool labels.
        sample_weight : array-like of shape (n_events,), optional
        callbacks : list of keras.callbacks.Callback, optional
            Used for this fit in addition to the ``callbacks`` parameter.

        Returns
        -------
        self
        """
        X = check_array(X, dtype=np.float32)
        y = check_binary_labels(y, require_both=True)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} events but y has {len(y)} labels")
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float32)
        if self.class_weight is not None:
            cw = compute_sample_weight(self.class_weight, y).astype(np.float32)
            sample_weight = cw if sample_weight is None else sample_weight * cw
        self._extra_callbacks = list(callbacks or [])
        self.classes_ = None  # scikeras re-derives the classes from y
        try:
            super(KerasClassifier, self).fit(X, y, sample_weight=sample_weight)
        except BaseException:
            # An interrupted fit (Ctrl-C in a notebook) must not leave a half-trained
            # network behind that predict would then use silently.
            for attr in ("model_", "history_", "n_epochs_", "best_epoch_",
                         "n_validation_events_", "_forward"):
                self.__dict__.pop(attr, None)
            raise
        finally:
            del self._extra_callbacks
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Not supported: training always uses early stopping on a held-out split."""
        raise NotImplementedError(
            "HiggsClassifier does not support partial_fit; use fit, or the "
            "streaming trainer for data larger than memory"
        )

    def _schedule_callbacks(self):
        """The learning-rate schedule as Keras callbacks (none for "constant")."""
        if self.learning_rate_schedule == "constant":
            return []
        if self.learning_rate_schedule != "cosine":
            raise ValueError(
                f"learning_rate_schedule must be 'constant' or 'cosine', "
                f"got {self.learning_rate_schedule!r}"
            )
        lr, epochs = float(self.learning_rate), int(self.epochs)

        def schedule(epoch, current):
            return cosine_learning_rate(lr, epoch, epochs)

        return [keras.callbacks.LearningRateScheduler(schedule)]

    def _validation_split(self, n_events, y):
        if not self.early_stopping:
            return slice(None), None  # a slice, not indices: no copy of X
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(
                f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}"
            )
        try:
            return train_test_split(
                np.arange(n_events),
                test_size=self.validation_fraction,
                stratify=y,
                shuffle=True,
                random_state=self._random_state,
            )
        except ValueError as exc:
            raise ValueError(
                f"{n_events} training events are too few for a stratified "
                f"validation_fraction={self.validation_fraction} split ({exc})"
            ) from exc

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        # Replaces scikeras' version, which silently drops fit callbacks and
        # has no stratified validation split.
        train, val = self._validation_split(len(X), y.ravel())
        self.n_validation_events_ = 0 if val is None else len(val)
        callbacks = (list(self._fit_callbacks) + list(self._extra_callbacks)
                     + self._schedule_callbacks())
        early = None
        fit_args = dict(
            batch_size=self.batch_size,
            epochs=initial_epoch + epochs,
            initial_epoch=initial_epoch,
            verbose=self.verbose,
            shuffle=True,
        )
        if val is not None:
            sw_val = None if sample_weight is None else sample_weight[val]
            fit_args["validation_data"] = (
                (X[val], y[val]) if sw_val is None else (X[val], y[val], sw_val)
            )
            early = keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=self.patience, restore_best_weights=True
            )
            callbacks.append(early)
        sw_train = None if sample_weight is None else sample_weight[train]
        with seeded(self._random_state):
            hist = self.model_.fit(
                X[train], y[train], sample_weight=sw_train, callbacks=callbacks, **fit_args
            )
        self.history_ = defaultdict(list)
        for key, values in hist.history.items():
            self.history_[key] = [float(v) for v in values]
        self.n_epochs_ = len(self.history_["loss"])
        self.best_epoch_ = None
        if early is not None and "val_loss" in self.history_:
            self.best_epoch_ = int(np.argmin(self.history_["val_loss"])) + 1
        # Callbacks hold references to the model; they are not fitted state.
        self._fit_callbacks = []
        self._predict_callbacks = []

    # -- prediction --------------------------------------------------------------

    def _compiled_forward(self):
        # One graph per fitted model with a batch dimension of None: Keras'
        # predict_on_batch retraces for every new input length, which floods
        # the log during cross-validation.  Not pickled (see __getstate__).
        fn = self.__dict__.get("_forward")
        if fn is None:
            import tensorflow as tf

            model = self.model_
            # The mean over members; a plain network has one.
            fn = tf.function(
                lambda x: keras.ops.mean(model(x, training=False), axis=-1),
                input_signature=[tf.TensorSpec([None, self.n_features_in_], tf.float32)],
                autograph=False,  # no Python control flow; spares autograph's source parsing
            )
            self._forward = fn
        return fn

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_forward", None)
        return state

    def _signal_probability(self, X):
        check_is_fitted(self, "model_")
        X = check_array(X, dtype=np.float32)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but HiggsClassifier is expecting "
                f"{self.n_features_in_} features as input."
            )
        forward = self._compiled_forward()
        out = np.empty(len(X), dtype=np.float32)
        # One compiled call per large block instead of Keras' per-32 predict loop;
        # a fixed block size also keeps results bit-identical run to run.
        for start in range(0, len(X), _PREDICT_BATCH):
            block = X[start : start + _PREDICT_BATCH]
            out[start : start + len(block)] = forward(block).numpy()
        return out

    def predict_proba(self, X):
        """Probabilities of background and signal.

        Parameters
        ----------
        X : array-like of shape (n_events, n_features)

        Returns
        -------
        ndarray of shape (n_events, 2)
            Columns ordered as ``classes_``: background, signal.
        """
        p = self._signal_probability(X).astype(np.float64)
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        """Predicted label, 1 where the signal probability exceeds 0.5.

        Parameters
        ----------
        X : array-like of shape (n_events, n_features)

        Returns
        -------
        ndarray of shape (n_events,)
        """
        return self.classes_[(self._signal_probability(X) > 0.5).astype(np.int64)]
