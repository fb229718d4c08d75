"""The executable book: its parameters, provenance, cache, build and the chapters' shared calls.

* :mod:`~hma_mascon.book.parameters` -- what a notebook's ``parameters`` cell holds (data, preset,
  overrides of the parameter table) and :func:`setup_notebook`;
* :mod:`~hma_mascon.book.provenance` -- the banner saying what built a page;
* :mod:`~hma_mascon.book.cache` -- one solution shared by all notebooks, never silently stale;
* :mod:`~hma_mascon.book.chapters` -- the calls the chapters share (the cached solution, its inputs,
  the reduced problem);
* :mod:`~hma_mascon.book.tables` -- ours beside the paper's numbers and the truth, as tables;
* :mod:`~hma_mascon.book.display` -- what a reader sees: tables with units and fixed precision,
  numbers glued into the prose;
* :mod:`~hma_mascon.book.build` -- ``hma-mascon book``: papermill, Jupyter Book, offline MathJax;
* :mod:`~hma_mascon.book.reader` -- the built pages read in headless Chromium, screenshots.

Notebooks ``import hma_mascon.book as hb`` and use the names re-exported here.
"""

from .build import (
                    BOOK_ROOT,
                    BookResult,
                    execute_notebook,
                    find_external_urls,
                    install_mathjax,
                    register_cli,
                    run_book,
                    strip_external_links,
                    toc_files,
                    toc_notebooks,
)
from .cache import (
                    cache_key,
                    cached,
                    cached_solution,
                    data_identity,
                    default_cache_dir,
                    source_fingerprint,
)
from .chapters import (
                    book_grid,
                    book_inputs,
                    book_regions,
                    book_solution,
                    reduced_book_solution,
                    reduced_problem_for_book,
)
from .parameters import (
                    BOOK_KEYS,
                    BookParameters,
                    ParameterError,
                    parse_assignments,
                    resolve_book_data_dir,
                    setup_notebook,
                    validate_parameters,
)
from .display import glue_markdown, glue_numbers, glue_paper_numbers, readable_table, show_table, without_data_dir
from .provenance import Banner, git_commit, provenance_banner
from .tables import paper_numbers_table, regional_comparison, table2_comparison, table3_comparison

__all__ = [
    "BOOK_ROOT", "BookResult", "execute_notebook", "find_external_urls", "install_mathjax", "register_cli",
    "run_book", "strip_external_links", "toc_files", "toc_notebooks", "cache_key", "cached", "cached_solution",
    "data_identity", "default_cache_dir", "source_fingerprint", "book_grid", "book_inputs", "book_regions",
    "book_solution", "reduced_book_solution", "reduced_problem_for_book", "BOOK_KEYS", "BookParameters",
    "ParameterError", "parse_assignments", "resolve_book_data_dir", "setup_notebook", "validate_parameters",
    "Banner", "git_commit", "provenance_banner", "paper_numbers_table", "regional_comparison",
    "table2_comparison", "table3_comparison", "glue_markdown", "glue_numbers", "glue_paper_numbers",
    "readable_table", "show_table", "without_data_dir",
]
