"""Triton kernels for tuning and alignment, each with an exact torch fallback.

``dispatch.patch_model`` decides per layer whether a kernel applies (a CUDA tensor, or the
Triton interpreter when ``TRITON_INTERPRET=1`` is set, as the tests do on a CPU; a supported
dtype, shape, dropout 0, bias) and patches only those layers. Importing this package stays
light: triton and the kernel modules load only when a kernel is about to run.
"""

KERNEL_MODES = ("auto", "off")  # --kernels: auto uses them on a GPU, off never
