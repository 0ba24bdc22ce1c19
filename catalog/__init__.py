"""hwplan's catalog: accelerators, servers, models, engines and price lists.

`load_catalog()` returns the bundled catalog (plus any user files); the records
are pydantic models defined in `catalog.schema`. This package knows nothing of
the optimizer or the command line. Names are imported on first use, so that
`hwplan --help` does not pay for pydantic.
"""

import importlib

_EXPORTS = {
    "Catalog": "loader", "load_catalog": "loader", "load_catalog_file": "loader",
    "Accelerator": "schema", "Platform": "schema", "System": "schema", "Model": "schema", "Variant": "schema",
    "Engine": "schema", "Offer": "schema", "PriceList": "schema", "ExchangeRate": "schema",
    "HwplanError": "errors", "InputError": "errors", "CatalogError": "errors", "ProblemError": "errors",
    "NoPlanError": "errors", "InfeasibleError": "errors", "SolverTimeoutError": "errors",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
