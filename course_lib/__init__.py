"""course_lib: the tested library behind the Reasoning Distillation Workbook.

Subpackages follow the flow of one experiment (lower layers never import higher ones):
``profiles, stats → data → models → rewards → distill, quant → eval → deploy → widgets``.
Import what a notebook needs from its subpackage, e.g. ``from course_lib.data.tasks import lab_suite``.
"""

from course_lib import profiles, setup

setup.quiet_optional_kernel_warning()  # before anything imports bitsandbytes

__version__ = "0.1.0"
__all__ = ["__version__", "profiles", "setup"]
