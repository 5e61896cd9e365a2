"""See the gradient: sensitivities, each example's nudges, averages, descent paths, landscapes.

Everything here returns plain data (NumPy arrays and dataclasses with a
``to_dict()`` that gives JSON-friendly lists and numbers); the figures are in
:mod:`nudge.insight.plots` and :mod:`nudge.insight.curvature_plots`, the commands in
:mod:`nudge.cli.insight`, :mod:`nudge.cli.minima` and :mod:`nudge.cli.curvature`.  It
uses only the core: :class:`nudge.network.Network` (forward pass, cost,
δᴸ), :func:`nudge.train.train` and :func:`nudge.train.evaluate`, and the data it is given.

Words, as in 3Blue1Brown's videos:

* a **nudge** to a parameter θ is the change one step of gradient descent
  wants for it: −∂C/∂θ (times the learning rate η);
* the **sensitivity** of the cost to θ is |∂C/∂θ|: a nudge of size ε to θ
  changes the cost by about ε |∂C/∂θ|;
* each training example x **wishes** for its own nudges, −∂Cₓ/∂θ; the true
  gradient step is the average of all the examples' wishes;
* a **mini-batch** estimate averages the wishes of a few random examples only;
  one **epoch** is one pass over the training set in mini-batches.

Parameters, numbering and naming
--------------------------------
All parameters in one flat vector θ: layer 1's weights (row by row, i.e.
``weights[0].ravel()``), layer 1's biases, then layer 2's, and so on
(:func:`get_parameters`, :func:`set_parameters`, :func:`unflatten`).

*Layers are numbered from 1* as in the videos: "layer l" is ``weights[l-1]``
and ``biases[l-1]``, the weights leading *into* layer l (layer 0 is the input).
*Neurons, pixels, rows and columns are numbered from 0*, like array indices and
like the digits the outputs stand for (output 2 is the neuron for digit 2).
So ``"layer 1 weight from input pixel (row 12, col 7) to hidden neuron 3"`` is
``weights[0][3, 12*28 + 7]`` in a 28x28 model (``12*8 + 7`` in an 8x8 model),
and ``"layer 3 bias of output 2"`` is ``biases[2][2]``.  The short forms
``w1[3,343]`` and ``b3[2]`` (layer from 1, indices from 0) and ``#N`` (the
position in θ) are accepted too: see :func:`parse_parameter`, :func:`locate`.

Precision and speed
-------------------
Gradients over a data set (:func:`full_gradient`) run over the uint8 images in
chunks of 16,384 examples, vectorised (the per-example δ's of a chunk are one
array), with products in the network's own dtype (float32 for trained models,
float64 for ``net.astype(np.float64)``; pass ``dtype`` to choose) and the chunk
sums accumulated in float64.  The weight gradient of a chunk is
computed as ``(Aᵀ δ)ᵀ``; ``δᵀ A`` gives the same numbers in about the same
time (first layer, 16,384 images: 5.8-6.4 ms against 5.8-7.9 ms, three runs of
``python benchmarks/insight_speed.py --repeats 9``).

API (all return dataclasses with ``to_dict()``)
-----------------------------------------------
* :func:`full_gradient` → :class:`Gradient`  (∂C/∂W, ∂C/∂b over a data set)
* :func:`example_deltas`  per-example δˡ = ∂Cₓ/∂zˡ for a batch (vectorised)
* :func:`example_nudges` → :class:`ExampleNudges`  (−∇Cₓ for each example)
* :func:`sensitivity` → :class:`Sensitivity`; :func:`compare` → :class:`Comparison`;
  :func:`linear_check` → list of :class:`LinearCheckRow`
* :func:`example_wishes` → :class:`ExampleWishes`  (the video's chain for one example)
* :func:`average_of_nudges`, :func:`average_check` → :class:`AverageCheck`,
  :func:`minibatch_estimates` → :class:`AverageReport` (with :class:`BatchEstimate` rows)
* :func:`descent` → :class:`DescentReport`  (full-batch GD vs SGD from one start; default
  η from :func:`default_learning_rate`: 4 for full-batch, 3 for mini-batches)
* naming: :func:`locate`, :func:`parameter_name`, :func:`parse_parameter` → :class:`Parameter`;
  θ as one vector: :func:`get_parameters`, :func:`set_parameters`, :func:`unflatten`
* :func:`landscape` → :class:`Landscape`  (1-D and 2-D slices of the cost along −∇C and a
  random direction ⟂ ∇C, or two filter-normalised random directions; no weight decay
  unless asked)

How good is a mini-batch, how steep is the valley (``docs/curvature-and-noise.md``)
--------------------------------------------------------------------------------
* :func:`noise_scale` → :class:`NoiseScale`  (B_simple = tr Σ / |G|², exact from the δ's);
  :class:`NoiseTracker` (an epoch callback for ``train``) → :class:`TrackedNoise` rows;
  :func:`fit_critical_batch` → :class:`CriticalBatch`  ((S/S_min − 1)(E/E_min − 1) = 1);
  :func:`hessian_noise_scale` → :class:`HessianNoiseScale`  (B_noise = tr(HΣ)/(GᵀHG))
* :func:`hessian_vector_product`, :class:`HessianOperator`, :func:`hessian_matrix`  (H v
  exactly, by Pearlmutter's R-operator)
* :func:`curvature` → :class:`Curvature`  (top and bottom eigenvalues by Lanczos, Hutchinson's
  trace, 2/λ_max)
* :func:`stability` → :class:`StabilityReport`  (full-batch GD around η = 2/λ_max, and λ_max
  along the runs: the edge of stability)
* :func:`interpolate` → :class:`Interpolation`  (cost and accuracy on the line between two
  networks); :func:`initial_network` (a model's initial weights, from its seed)

The figures for these are in :mod:`nudge.insight.curvature_plots`.
"""

from __future__ import annotations

from .averages import (
    AverageCheck,
    AverageReport,
    BatchEstimate,
    average_check,
    minibatch_estimates,
    predicted_relative_error,
)
from .common import CHUNK, single_threaded_blas
from .curvature import Curvature, curvature, hutchinson_trace, top_eigenvalues
from .descent import DescentReport, DescentRun, Reached, default_learning_rate, descent
from .gradients import (
    MAX_NUDGE_VALUES,
    ExampleNudges,
    Gradient,
    average_of_nudges,
    example_deltas,
    example_nudges,
    full_gradient,
    total_cost,
)
from .hessian import HessianOperator, hessian_matrix, hessian_vector_product
from .interpolate import Interpolation, initial_network, interpolate
from .landscape import Landscape, filter_normalized_direction, landscape
from .noise import (
    CriticalBatch,
    HessianNoiseScale,
    NoiseScale,
    NoiseTracker,
    TrackedNoise,
    fit_critical_batch,
    hessian_noise_scale,
    noise_scale,
)
from .parameters import (
    Parameter,
    flatten,
    get_parameters,
    input_image_shape,
    locate,
    make_parameter,
    parameter_name,
    parse_parameter,
    set_parameters,
    unflatten,
)
from .sensitivity import (
    Comparison,
    LayerSensitivity,
    LinearCheckRow,
    RankedParameter,
    Sensitivity,
    compare,
    linear_check,
    ranked,
    sensitivity,
    sensitivity_order,
)
from .stability import StabilityReport, StabilityRun, stability
from .wishes import ExampleWishes, LayerWishes, example_wishes, output_cost_gradient

__all__ = [
    'AverageCheck', 'AverageReport', 'BatchEstimate', 'CHUNK', 'Comparison', 'DescentReport',
    'DescentRun', 'ExampleNudges', 'ExampleWishes', 'Gradient', 'Landscape',
    'LayerSensitivity', 'LayerWishes', 'LinearCheckRow', 'MAX_NUDGE_VALUES', 'Parameter',
    'RankedParameter', 'Reached', 'Sensitivity', 'average_check', 'average_of_nudges',
    'compare', 'default_learning_rate', 'descent', 'example_deltas', 'example_nudges',
    'example_wishes', 'flatten', 'full_gradient', 'get_parameters', 'input_image_shape',
    'landscape', 'linear_check', 'locate', 'make_parameter', 'minibatch_estimates',
    'output_cost_gradient', 'parameter_name', 'parse_parameter', 'predicted_relative_error',
    'ranked', 'sensitivity', 'sensitivity_order', 'set_parameters', 'single_threaded_blas',
    'total_cost', 'unflatten',
    'CriticalBatch', 'Curvature', 'HessianNoiseScale', 'HessianOperator', 'Interpolation',
    'NoiseScale', 'hessian_noise_scale',
    'NoiseTracker', 'StabilityReport', 'StabilityRun', 'TrackedNoise', 'curvature',
    'filter_normalized_direction', 'fit_critical_batch', 'hessian_matrix',
    'hessian_vector_product', 'hutchinson_trace', 'initial_network', 'interpolate',
    'noise_scale', 'stability', 'top_eigenvalues',
]
