"""The emulator's small core, shared by every product package: the API module and token verifier (``api``), HTTP
helpers and error envelopes (``http``), the clock (``clock``), the store registry (``stores``), predictable IDs and
the tenant's people (``ids``, ``directory``), the OData engine (``odata``), and advanced hunting's schemas and KQL
engine (``hunting``, ``kql``). Core imports no product."""
