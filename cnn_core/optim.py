"""Optimizers: SGD, RMSprop and Adam with Keras' names and defaults and PyTorch's update rules.

Each optimizer updates a list of parameter arrays in place from a list of gradient arrays, step by step
equal to ``torch.optim`` (single-tensor path) for the same hyper-parameters, and keeps its own state:
per-parameter buffers keyed by the parameter's position in the list, and the step count ``iterations``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from cnn_core._checks import FloatArray, _all_finite, as_array, check_bool
from cnn_core.errors import ArgumentError, ArgumentTypeError

OPTIMIZER_NAMES = ("sgd", "rmsprop", "adam")


def _real(value: object, name: str) -> float:
    """A hyper-parameter as a Python float; bools and non-numbers are refused."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool | np.bool_):
        raise ArgumentTypeError(f"{name} must be a real number, got {value!r}")
    return float(value)


def _positive(value: object, name: str) -> float:
    number = _real(value, name)
    if not (math.isfinite(number) and number > 0):
        raise ArgumentError(f"{name} must be a positive finite number, got {value!r}")
    return number


def _non_negative(value: object, name: str) -> float:
    number = _real(value, name)
    if not (math.isfinite(number) and number >= 0):
        raise ArgumentError(f"{name} must be a finite number >= 0, got {value!r}")
    return number


def _unit_interval(value: object, name: str) -> float:
    number = _real(value, name)
    if not 0 <= number < 1:
        raise ArgumentError(f"{name} must be in [0, 1), got {value!r}")
    return number


def _zeros(state: dict[str, FloatArray], name: str, param: FloatArray) -> FloatArray:
    """A state buffer, made as zeros on the first step only (``setdefault`` would allocate on every step)."""
    if name not in state:
        state[name] = np.zeros_like(param)
    return state[name]


class Optimizer:
    """Shared machinery: argument checks, the step count and per-parameter state (see the subclasses)."""

    name: ClassVar[str]

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = _positive(learning_rate, "learning_rate")
        self.iterations = 0
        self.state: dict[int, dict[str, FloatArray]] = {}
        self._shapes: list[tuple[int, ...]] | None = None

    def get_config(self) -> dict[str, Any]:
        """The optimizer's name and hyper-parameters (``get_optimizer(config["name"])`` makes the same kind)."""
        return {"name": self.name, **self._hyper_parameters()}

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self._hyper_parameters().items())
        return f"{type(self).__name__}({arguments})"

    def step(self, params: Sequence[FloatArray], grads: Sequence[object]) -> None:
        """Update every array of ``params`` in place from the matching gradient in ``grads``.

        Parameters
        ----------
        params : list of float ndarray
            The parameters, any shapes, float32 or float64; each is updated in place and keeps its dtype.
            Pass the same arrays in the same order on every step: state is kept per position.
        grads : list of array-like
            One gradient per parameter, of the same shape, finite; cast to the parameter's dtype.

        Raises
        ------
        TypeError
            When ``params`` or ``grads`` is not a list, or a parameter is not a float ndarray.
        ValueError
            When the lists differ in length, a shape does not match, a gradient holds NaN or infinity,
            a parameter is read-only, or the parameters differ from those of the previous steps.

        Examples
        --------
        >>> param = np.array([1.0, 2.0])
        >>> SGD(learning_rate=0.5).step([param], [np.array([1.0, -1.0])])
        >>> param
        array([0.5, 2.5])
        """
        pairs = self._check(params, grads)
        self.iterations += 1
        for index, (param, grad) in enumerate(pairs):
            self._update(self.state.setdefault(index, {}), param, grad)

    def _check(self, params: object, grads: object) -> list[tuple[FloatArray, FloatArray]]:
        """Validate both lists completely before any parameter changes."""
        if not isinstance(params, list | tuple):
            raise ArgumentTypeError(f"params must be a list of arrays, got {type(params).__name__}")
        if not isinstance(grads, list | tuple):
            raise ArgumentTypeError(f"grads must be a list of arrays, got {type(grads).__name__}")
        if not params:
            raise ArgumentError("params must be a non-empty list of arrays, got an empty list")
        if len(grads) != len(params):
            raise ArgumentError(f"grads must hold one gradient per parameter ({len(params)}), got {len(grads)}")
        pairs = []
        for index, (param, grad) in enumerate(zip(params, grads, strict=True)):
            if not (isinstance(param, np.ndarray) and param.dtype.kind == "f"):
                kind = f"dtype {param.dtype}" if isinstance(param, np.ndarray) else type(param).__name__
                raise ArgumentTypeError(f"params[{index}] must be a float ndarray (updated in place), got {kind}")
            if not param.flags.writeable:
                raise ArgumentError(f"params[{index}] must be a writeable array (it is updated in place)")
            gradient = as_array(grad, f"grads[{index}]")
            if gradient.dtype.kind not in "biuf":
                raise ArgumentTypeError(f"grads[{index}] must hold real numbers, got dtype {gradient.dtype}")
            if gradient.shape != param.shape:
                raise ArgumentError(f"grads[{index}] must have the shape of params[{index}] {param.shape}, "
                                    f"got {gradient.shape}")
            with np.errstate(over="ignore", invalid="ignore"):  # a value too large for float32 becomes inf
                gradient = gradient.astype(param.dtype, copy=False)
            if gradient.size and not _all_finite(gradient):
                raise ArgumentError(f"grads[{index}] must contain only finite numbers (the gradient of parameter "
                                    f"{index} holds NaN or infinity in {param.dtype})")
            pairs.append((param, gradient))
        shapes = [param.shape for param, _ in pairs]
        if self._shapes is not None and shapes != self._shapes:
            raise ArgumentError(f"params must be the same arrays on every step (state is kept per position): "
                                f"shapes {self._shapes} before, got {shapes}")
        self._shapes = shapes
        return pairs

    def _hyper_parameters(self) -> dict[str, Any]:
        raise NotImplementedError

    def _update(self, state: dict[str, FloatArray], param: FloatArray, grad: FloatArray) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, Nesterov momentum and weight decay: ``torch.optim.SGD``.

    With ``g = grad + weight_decay * param``: without momentum ``param -= learning_rate * g``; with it
    the buffer ``b`` starts as ``g`` on the first step, then ``b = momentum * b + g`` (dampening 0), and
    ``param -= learning_rate * b``, or ``learning_rate * (g + momentum * b)`` with ``nesterov``.

    Parameters
    ----------
    learning_rate : float, default 0.01
        Positive step size (Keras' default).
    momentum : float, default 0.0
        Momentum factor, >= 0.
    nesterov : bool, default False
        Nesterov momentum; needs ``momentum > 0`` as PyTorch does.
    weight_decay : float, default 0.0
        L2 penalty added to the gradient, >= 0 (PyTorch's ``weight_decay``).

    Raises
    ------
    TypeError
        When a hyper-parameter is not a number (``nesterov`` not a bool).
    ValueError
        When a hyper-parameter is out of range, or ``nesterov`` is set without momentum.

    Examples
    --------
    >>> param = np.array([1.0])
    >>> optimizer = SGD(learning_rate=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     optimizer.step([param], [np.array([1.0])])
    >>> param  # 1 - 0.1 * 1 - 0.1 * (0.9 + 1)
    array([0.71])
    """

    name = "sgd"

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        super().__init__(learning_rate)
        self.momentum = _non_negative(momentum, "momentum")
        self.nesterov = check_bool(nesterov, "nesterov")
        self.weight_decay = _non_negative(weight_decay, "weight_decay")
        if self.nesterov and self.momentum == 0:
            raise ArgumentError(f"nesterov=True requires momentum > 0, got momentum={momentum!r}")

    def _hyper_parameters(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay}

    def _update(self, state: dict[str, FloatArray], param: FloatArray, grad: FloatArray) -> None:
        if self.weight_decay != 0:
            grad = grad + self.weight_decay * param
        if self.momentum != 0:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = state["momentum_buffer"] = grad.copy()
            else:
                buffer *= self.momentum
                buffer += grad
            grad = grad + self.momentum * buffer if self.nesterov else buffer
        param -= self.learning_rate * grad


class RMSprop(Optimizer):
    """RMSprop: ``torch.optim.RMSprop`` with ``alpha=rho``, ``eps=epsilon``, not centred.

    ``s = rho * s + (1 - rho) * grad**2`` (``s`` starts at 0), ``d = sqrt(s) + epsilon``; then
    ``param -= learning_rate * grad / d``, or with momentum ``b = momentum * b + grad / d`` (``b`` starts
    at 0) and ``param -= learning_rate * b``. Keras adds epsilon inside the square root; PyTorch outside.

    Parameters
    ----------
    learning_rate : float, default 0.001
        Positive step size (Keras' default).
    rho : float, default 0.9
        Discount of the moving average of squared gradients, in [0, 1) (Keras' default; PyTorch's 0.99).
    momentum : float, default 0.0
        Momentum factor, >= 0.
    epsilon : float, default 1e-7
        Positive constant added to the root mean square (Keras' default).

    Raises
    ------
    TypeError
        When a hyper-parameter is not a number.
    ValueError
        When a hyper-parameter is out of range.

    Examples
    --------
    >>> param = np.array([1.0])
    >>> RMSprop(learning_rate=0.1, rho=0.75, epsilon=0.5).step([param], [np.array([2.0])])
    >>> param  # s = 0.25 * 4 = 1, so 1 - 0.1 * 2 / (1 + 0.5)
    array([0.86666667])
    """

    name = "rmsprop"

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate)
        self.rho = _unit_interval(rho, "rho")
        self.momentum = _non_negative(momentum, "momentum")
        self.epsilon = _positive(epsilon, "epsilon")

    def _hyper_parameters(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon}

    def _update(self, state: dict[str, FloatArray], param: FloatArray, grad: FloatArray) -> None:
        square_avg = _zeros(state, "square_avg", param)
        square_avg *= self.rho
        square_avg += (1 - self.rho) * grad * grad
        avg = np.sqrt(square_avg)
        avg += self.epsilon
        if self.momentum > 0:
            buffer = _zeros(state, "momentum_buffer", param)
            buffer *= self.momentum
            buffer += grad / avg
            param -= self.learning_rate * buffer
        else:
            param -= self.learning_rate * grad / avg


class Adam(Optimizer):
    """Adam: ``torch.optim.Adam`` with ``betas=(beta_1, beta_2)``, ``eps=epsilon``, no weight decay.

    ``m = m + (1 - beta_1) * (grad - m)``, ``v = beta_2 * v + (1 - beta_2) * grad**2`` (both start at 0);
    at step ``t``, ``param -= learning_rate / (1 - beta_1**t) * m / (sqrt(v) / sqrt(1 - beta_2**t) + epsilon)``,
    in the order PyTorch computes it.

    Parameters
    ----------
    learning_rate : float, default 0.001
        Positive step size.
    beta_1, beta_2 : float, default 0.9, 0.999
        Decay rates of the first and second moment estimates, each in [0, 1).
    epsilon : float, default 1e-7
        Positive constant added to the denominator (Keras' default; PyTorch's is 1e-8).

    Raises
    ------
    TypeError
        When a hyper-parameter is not a number.
    ValueError
        When a hyper-parameter is out of range.

    Examples
    --------
    >>> param = np.array([1.0, 1.0])
    >>> Adam(learning_rate=0.1).step([param], [np.array([3.0, -0.5])])
    >>> param.round(6)  # the first step moves each parameter by about learning_rate, against the gradient
    array([0.9, 1.1])
    """

    name = "adam"

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate)
        self.beta_1 = _unit_interval(beta_1, "beta_1")
        self.beta_2 = _unit_interval(beta_2, "beta_2")
        self.epsilon = _positive(epsilon, "epsilon")

    def _hyper_parameters(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}

    def _update(self, state: dict[str, FloatArray], param: FloatArray, grad: FloatArray) -> None:
        exp_avg = _zeros(state, "exp_avg", param)
        exp_avg_sq = _zeros(state, "exp_avg_sq", param)
        weight = 1 - self.beta_1  # torch's lerp: from the start for small weights, from the end otherwise
        if weight < 0.5:
            exp_avg += weight * (grad - exp_avg)
        else:
            exp_avg[...] = grad - (grad - exp_avg) * (1 - weight)
        exp_avg_sq *= self.beta_2
        exp_avg_sq += (1 - self.beta_2) * grad * grad
        step = float(self.iterations)
        step_size = self.learning_rate / (1 - self.beta_1**step)
        bias_correction2_sqrt = (1 - self.beta_2**step) ** 0.5
        denom = np.sqrt(exp_avg_sq) / bias_correction2_sqrt
        denom += self.epsilon
        param += -step_size * exp_avg / denom


_CLASSES: dict[str, type[SGD] | type[RMSprop] | type[Adam]] = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}


def get_optimizer(optimizer: str | Optimizer, learning_rate: float | None = None) -> Optimizer:
    """An optimizer from its name, or the given optimizer object itself.

    Parameters
    ----------
    optimizer : str or Optimizer
        ``"sgd"``, ``"rmsprop"`` or ``"adam"`` (any case) for a new optimizer with Keras' defaults, or an
        ``SGD``, ``RMSprop`` or ``Adam`` object, returned as it is (with its own learning rate and state).
    learning_rate : float or None, default None
        For a name: the learning rate of the new optimizer (None: its default). Not used for an object.

    Returns
    -------
    Optimizer

    Raises
    ------
    ValueError
        When ``optimizer`` is neither an allowed name nor an optimizer object, or ``learning_rate`` is
        not positive (TypeError when it is not a number).

    Examples
    --------
    >>> get_optimizer("Adam", learning_rate=0.01)
    Adam(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-07)
    >>> get_optimizer("sgd").get_config()
    {'name': 'sgd', 'learning_rate': 0.01, 'momentum': 0.0, 'nesterov': False, 'weight_decay': 0.0}
    """
    if isinstance(optimizer, Optimizer):
        return optimizer
    key = optimizer.lower() if isinstance(optimizer, str) else ""
    if key not in _CLASSES:
        raise ArgumentError(f"optimizer must be one of {', '.join(repr(n) for n in OPTIMIZER_NAMES)} or an "
                            f"optimizer object (SGD, RMSprop, Adam), got {optimizer!r}")
    cls = _CLASSES[key]
    return cls() if learning_rate is None else cls(learning_rate=learning_rate)
